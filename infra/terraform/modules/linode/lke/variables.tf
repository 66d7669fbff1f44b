variable "label" {
  description = "Cluster label (registry cluster.name)."
  type        = string
}

variable "region" {
  description = "Linode region (seed 002: fr-par)."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version (registry cluster.kubernetes_version)."
  type        = string
}

variable "pools" {
  description = "The node-pools module's lke_pools output, in registry order (the provider rewrites pools in place when their order changes)."
  type = list(object({
    type       = string
    count      = number
    autoscaler = object({ min = number, max = number })
    taints     = list(object({ key = string, value = string, effect = string }))
    labels     = map(string)
  }))
}

variable "firewall_id" {
  description = "Cloud Firewall attached to every pool's nodes."
  type        = number
}

variable "control_plane_allowed_ipv4" {
  description = "CIDRs allowed to reach the API server (CI runners, the platform team's VPN)."
  type        = list(string)

  validation {
    condition     = length(var.control_plane_allowed_ipv4) > 0 && !contains(var.control_plane_allowed_ipv4, "0.0.0.0/0")
    error_message = "control_plane_allowed_ipv4 must name CIDRs, and not 0.0.0.0/0."
  }
}

variable "tags" {
  description = "Tags for the cluster and its pools."
  type        = list(string)
  default     = []
}
