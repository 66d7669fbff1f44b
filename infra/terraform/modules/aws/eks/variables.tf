variable "name" {
  description = "Cluster name (registry cluster.name)."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version (registry cluster.kubernetes_version)."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must read 1.NN."
  }
}

variable "subnet_ids" {
  description = "Private subnets, one per zone: the control plane and Auto Mode nodes use them."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "a multi-AZ cluster needs subnets in at least two zones."
  }
}

variable "public_endpoint_cidrs" {
  description = "CIDRs allowed to reach a public API endpoint; empty keeps the endpoint private only."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.public_endpoint_cidrs, "0.0.0.0/0")
    error_message = "the API endpoint must not be open to 0.0.0.0/0; name the CIDRs that need it."
  }
}

variable "secrets_kms_key_arn" {
  description = "KMS key for envelope encryption of Kubernetes Secrets."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch retention of control-plane logs."
  type        = number
  default     = 365
}

variable "logs_kms_key_arn" {
  description = "KMS key encrypting the control-plane log group."
  type        = string
}

variable "admin_principal_arns" {
  description = "IAM roles granted cluster admin through access entries (no aws-auth ConfigMap)."
  type        = list(string)
  default     = []
}

variable "workload_roles" {
  description = "Pod Identity: service account -> IAM policy JSON for the pods that need AWS APIs."
  type = map(object({
    namespace       = string
    service_account = string
    policy_json     = string
  }))
  default = {}
}

variable "deletion_protection" {
  description = "Refuse cluster deletion (production-class environments)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
