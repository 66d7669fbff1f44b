variable "name" {
  description = "VNet name (seed 004: vnet-voiceassistant-prod)."
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

variable "cidr" {
  description = "Address space (seed 004: 10.0.0.0/16)."
  type        = string
}

variable "subnets" {
  description = "aks, db, cache and gateway subnets, one CIDR each, inside cidr."
  type = object({
    aks     = list(string)
    db      = list(string)
    cache   = list(string)
    gateway = list(string)
  })
}

variable "private_dns_zones" {
  description = "privatelink zones linked to the VNet, by purpose."
  type        = map(string)
  default = {
    redis    = "privatelink.redis.cache.windows.net"
    blob     = "privatelink.blob.core.windows.net"
    vault    = "privatelink.vaultcore.azure.net"
    registry = "privatelink.azurecr.io"
  }
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}

variable "load_balancer_frontends" {
  description = "Public frontend addresses of the cluster's load balancer by name; a rule naming a frontend admits traffic to it."
  type        = map(string)
  default     = {}
}
