variable "name" {
  description = "Storage account name (seed 004: stvoiceassistantprod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.name))
    error_message = "storage account names are 3-24 lowercase letters and digits."
  }
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group."
  type        = string
}

variable "containers" {
  description = "Blob containers (seed 004: conversations, uploads, recordings, backups)."
  type        = set(string)
  default     = ["conversations", "uploads", "recordings", "backups"]
}

variable "release_containers" {
  description = "Containers the environment's releases keep their own state in, beside the seed's (Loki's chunks, rules and admin state)."
  type        = set(string)
  default     = []
}

variable "lifecycle_days" {
  description = "Seed 004: cool after 30 days, archive after 90, delete after 365."
  type = object({
    cool    = number
    archive = number
    delete  = number
  })
  default = { cool = 30, archive = 90, delete = 365 }

  validation {
    condition     = var.lifecycle_days.cool < var.lifecycle_days.archive && var.lifecycle_days.archive < var.lifecycle_days.delete
    error_message = "lifecycle_days must be ordered: cool < archive < delete."
  }
}

variable "soft_delete_days" {
  description = "Blob and container soft delete (seed 004: 14 days)."
  type        = number
  default     = 14
}

variable "endpoint_subnet_id" {
  description = "Subnet of the blob private endpoint."
  type        = string
}

variable "private_dns_zone_id" {
  description = "privatelink.blob.core.windows.net zone."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
