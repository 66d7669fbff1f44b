variable "name" {
  description = "DB instance identifier."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version (seed 003 names 15.4; minor versions follow AWS's auto minor upgrades)."
  type        = string
  default     = "15"

  validation {
    condition     = can(regex("^1[5-9](\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be PostgreSQL 15 or newer."
  }
}

variable "instance_class" {
  description = "Instance class (seed 003: db.r6g.large)."
  type        = string
  default     = "db.r6g.large"
}

variable "allocated_storage_gb" {
  description = "Initial gp3 storage (seed 003: 100 GB)."
  type        = number
  default     = 100
}

variable "max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling."
  type        = number
  default     = 1000

  validation {
    condition     = var.max_allocated_storage_gb >= 100
    error_message = "max_allocated_storage_gb must leave room to grow above the initial 100 GB."
  }
}

variable "multi_az" {
  description = "Synchronous standby in a second zone (seed 003: Multi-AZ)."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Automated backups and point-in-time recovery window (seed 003: 30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be 7-35: point-in-time recovery needs automated backups."
  }
}

variable "deletion_protection" {
  description = "Refuse deletion (on in production-class environments)."
  type        = bool
  default     = true
}

variable "subnet_ids" {
  description = "Private subnets, one per zone."
  type        = list(string)
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (the EKS cluster's)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights and the managed master password."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
