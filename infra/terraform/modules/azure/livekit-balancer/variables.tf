variable "name" {
  description = "Load balancer name (seed 004: lb-livekit-prod); its public address is pip-<name>."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the public address (the TURN Service's annotation names it too)."
  type        = string
}

variable "cluster_principal_id" {
  description = "Principal id of the AKS cluster identity, whose cloud provider attaches the address to the cluster's load balancer."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
