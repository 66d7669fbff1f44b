variable "name" {
  description = "Registry name (seed 004: acrvoiceassistantprod)."
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

variable "replica_locations" {
  description = "Geo-replicas (seed 004: West EU)."
  type        = list(string)
  default     = ["westeurope"]
}

variable "pull_principal_ids" {
  description = "Principals granted AcrPull (the AKS kubelet identity)."
  type        = map(string)
  default     = {}
}

variable "endpoint_subnet_id" {
  description = "Subnet of the registry's private endpoint."
  type        = string
}

variable "private_dns_zone_id" {
  description = "privatelink.azurecr.io zone."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
