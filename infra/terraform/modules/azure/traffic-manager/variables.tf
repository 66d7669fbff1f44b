variable "name" {
  description = "Profile name; also its relative DNS name under trafficmanager.net."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group."
  type        = string
}

variable "primary_target_id" {
  description = "Public IP of the primary region's Application Gateway."
  type        = string
}

variable "monitor_host" {
  description = "Host the endpoint checks ask for (one of the registry's public routes): the gateway routes it to the ingress."
  type        = string
}

variable "secondary_regions" {
  description = "Seed 004's other regions (West EU, Asia SE): region -> gateway FQDN there; a region without a deployment yet is left out."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
