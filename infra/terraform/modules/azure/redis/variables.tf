variable "name" {
  description = "Cache name (seed 004: redis-voiceassistant-prod)."
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

variable "capacity" {
  description = "Premium size (seed 004: P2, 6 GB)."
  type        = number
  default     = 2

  validation {
    condition     = var.capacity >= 1 && var.capacity <= 5
    error_message = "Premium capacity is P1-P5."
  }
}

variable "shard_count" {
  description = "Cluster shards (seed 004: 3)."
  type        = number
  default     = 3

  validation {
    condition     = var.shard_count >= 1 && var.shard_count <= 10
    error_message = "shard_count must be 1-10."
  }
}

variable "persistence_storage" {
  description = "Blob endpoint and id of the storage account receiving RDB snapshots (managed identity)."
  type = object({
    blob_endpoint = string
    account_id    = string
  })
}

variable "endpoint_subnet_id" {
  description = "cache subnet for the private endpoint."
  type        = string
}

variable "private_dns_zone_id" {
  description = "privatelink.redis.cache.windows.net zone."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
