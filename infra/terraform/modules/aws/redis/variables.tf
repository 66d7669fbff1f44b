variable "name" {
  description = "Replication group id."
  type        = string
}

variable "engine_version" {
  description = "Redis engine version (seed 003: 7.0)."
  type        = string
  default     = "7.0"
}

variable "node_type" {
  description = "Cache node type (seed 003: cache.r6g.large)."
  type        = string
  default     = "cache.r6g.large"
}

variable "shards" {
  description = "Cluster-mode shards (seed 003: 3)."
  type        = number
  default     = 3

  validation {
    condition     = var.shards >= 1 && var.shards <= 500
    error_message = "shards must be between 1 and 500."
  }
}

variable "replicas_per_shard" {
  description = "Replicas in every shard (seed 003: 1); at least one for Multi-AZ failover."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas_per_shard >= 1 && var.replicas_per_shard <= 5
    error_message = "replicas_per_shard must be 1-5: Multi-AZ failover needs a replica."
  }
}

variable "snapshot_retention_days" {
  description = "Daily snapshots kept."
  type        = number
  default     = 7
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
  description = "Security groups allowed to connect on 6379 (the EKS cluster's)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for data at rest, snapshots and the auth token secret."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch retention of slow and engine logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
