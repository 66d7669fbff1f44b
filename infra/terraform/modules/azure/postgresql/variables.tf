variable "name" {
  description = "Server name (seed 004: psql-voiceassistant-prod)."
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

variable "postgresql_version" {
  description = "PostgreSQL major version (seed 004: 15)."
  type        = string
  default     = "15"
}

variable "sku_name" {
  description = "General Purpose, 4 vCores, 16 GB (seed 004)."
  type        = string
  default     = "GP_Standard_D4s_v3"
}

variable "storage_mb" {
  description = "Storage (seed 004: 256 GB, auto-grow)."
  type        = number
  default     = 262144
}

variable "backup_retention_days" {
  description = "Backups and point-in-time restore window (seed 004: 7 days, geo-redundant)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be 7-35."
  }
}

variable "read_replicas" {
  description = "Read replicas in the same region (seed 004: 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.read_replicas >= 0 && var.read_replicas <= 5
    error_message = "read_replicas must be 0-5."
  }
}

variable "delegated_subnet_id" {
  description = "db subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers."
  type        = string
}

variable "vnet_id" {
  description = "VNet the private DNS zone is linked to."
  type        = string
}

variable "administrator" {
  description = "The password administrator secrets.rotate sets the workloads' logins as: its login (changing it replaces the server), the vault entry holding it (JSON username and password), and the version that, raised, makes a new password."
  type = object({
    login            = string
    key_vault_id     = string
    vault_entry      = string
    password_version = optional(number, 1)
    rotation_days    = optional(number, 90)
  })

  validation {
    condition     = !contains(["azure_superuser", "azure_pg_admin", "admin", "administrator", "root", "guest", "public"], lower(var.administrator.login)) && can(regex("^[a-z][a-z0-9_]{0,62}$", var.administrator.login))
    error_message = "administrator.login must be a lower-case PostgreSQL name that Azure does not reserve."
  }
}

variable "entra_admin" {
  description = "Entra ID group administering the server (people sign in with Entra ID)."
  type = object({
    object_id = string
    name      = string
  })
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
