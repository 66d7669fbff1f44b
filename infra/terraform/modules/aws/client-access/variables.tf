variable "name" {
  description = "Security group name."
  type        = string
}

variable "description" {
  description = "What the group admits, e.g. \"PostgreSQL 5432 from the EKS cluster only\"."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the group."
  type        = string
}

variable "port" {
  description = "The one TCP port clients reach."
  type        = number

  validation {
    condition     = var.port >= 1 && var.port <= 65535
    error_message = "port must be 1-65535."
  }
}

variable "client_security_group_ids" {
  description = "Security groups whose members may connect (the EKS cluster's)."
  type        = list(string)
  default     = []
}

variable "client_cidrs" {
  description = "CIDRs that may connect (a recovery network without cluster yet)."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.client_cidrs, "0.0.0.0/0")
    error_message = "a data store is never open to 0.0.0.0/0."
  }
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
