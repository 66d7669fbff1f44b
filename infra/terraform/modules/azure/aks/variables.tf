variable "name" {
  description = "Cluster name (registry cluster.name, seed 004: aks-voiceassistant-prod)."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version (seed 004's 1.28 is out of support; the registry holds the current one)."
  type        = string
}

variable "node_pools" {
  description = "The node-pools module's aks_pools output: system is the default pool, the rest are user pools."
  type = map(object({
    vm_size              = string
    mode                 = string
    auto_scaling_enabled = bool
    min_count            = number
    max_count            = number
    node_count           = number
    node_taints          = list(string)
    node_labels          = map(string)
    public_ip            = bool # nodes get public addresses (LiveKit's host-networked media)
  }))

  validation {
    condition     = contains(keys(var.node_pools), "system")
    error_message = "node_pools needs a system pool."
  }
}

variable "subnet_id" {
  description = "AKS subnet (seed 004: 10.0.0.0/20); Azure CNI gives pods addresses from it."
  type        = string
}

variable "service_cidr" {
  description = "Kubernetes service range, outside the VNet."
  type        = string
  default     = "172.16.0.0/16"
}

variable "admin_group_object_ids" {
  description = "Entra ID groups with cluster-admin."
  type        = list(string)
  default     = []
}

variable "log_analytics_workspace_id" {
  description = "Workspace for Container Insights and Defender."
  type        = string
}

variable "identity_id" {
  description = "User-assigned identity of the control plane; the caller grants it the subnet and the etcd key before the cluster exists."
  type        = string
}

variable "etcd_key_id" {
  description = "Key Vault key encrypting etcd (KMS)."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
