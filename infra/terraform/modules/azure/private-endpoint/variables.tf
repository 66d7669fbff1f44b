variable "name" {
  description = "Endpoint name."
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

variable "subnet_id" {
  description = "Subnet the endpoint's private address comes from."
  type        = string
}

variable "resource_id" {
  description = "The PaaS resource reached through the endpoint."
  type        = string
}

variable "subresource" {
  description = "Subresource (redisCache, blob, vault, registry, ...)."
  type        = string
}

variable "private_dns_zone_id" {
  description = "privatelink zone the endpoint registers its address in."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
