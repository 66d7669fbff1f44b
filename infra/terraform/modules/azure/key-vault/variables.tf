variable "name" {
  description = "Vault name (seed 004: kv-voiceassistant-prod)."
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

variable "soft_delete_retention_days" {
  description = "Days a deleted secret or key stays recoverable."
  type        = number
  default     = 90

  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90
    error_message = "soft_delete_retention_days must be 7-90."
  }
}

variable "reader_object_ids" {
  description = "Principals reading secrets (the AKS secrets provider, developer groups read-only)."
  type        = map(string)
  default     = {}
}

variable "crypto_user_object_ids" {
  description = "Principals using keys (the AKS control plane for etcd encryption)."
  type        = map(string)
  default     = {}
}

variable "endpoint_subnet_id" {
  description = "Subnet of the vault's private endpoint."
  type        = string
}

variable "private_dns_zone_id" {
  description = "privatelink.vaultcore.azure.net zone."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
