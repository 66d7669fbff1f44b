variable "name_prefix" {
  description = "Identities are named id-<prefix>-<binding>."
  type        = string
}

variable "location" {
  description = "Azure region of the identities."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the identities."
  type        = string
}

variable "oidc_issuer_url" {
  description = "The AKS cluster's OIDC issuer: the federated credentials trust the service account tokens it signs."
  type        = string
}

variable "bindings" {
  description = "Workload -> the namespace and service account its pods run as, and its Azure roles, each on the narrowest scope that serves it (a container rather than the account)."
  type = map(object({
    namespace       = string
    service_account = string
    roles = map(object({
      role  = string
      scope = string
    }))
  }))

  validation {
    condition     = alltrue([for binding in values(var.bindings) : length(binding.roles) > 0])
    error_message = "every binding grants at least one role: an identity without one has nothing to reach."
  }
}

variable "annotate_service_accounts" {
  description = "Write each identity's client id onto its service account. The accounts are the charts' and exist once Argo CD has synced the releases, so a new environment's first apply sets this false."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
