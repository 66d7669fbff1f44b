variable "domain" {
  description = "Zone (registry terraform.dns_zone)."
  type        = string
}

variable "soa_email" {
  description = "SOA contact."
  type        = string
}

variable "ingress_address" {
  description = "Public address of the ingress NodeBalancer."
  type        = string
}

variable "hosts" {
  description = "Names under the zone pointing at the ingress (the registry's public routes, relative to the zone)."
  type        = list(string)
}

variable "tags" {
  description = "Tags."
  type        = list(string)
  default     = []
}
