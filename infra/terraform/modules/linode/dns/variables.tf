variable "domain" {
  description = "Zone (registry terraform.dns_zone)."
  type        = string
}

variable "soa_email" {
  description = "SOA contact."
  type        = string
}

variable "ingress_address" {
  description = "Public address of the ingress NodeBalancer; null until the ingress controller has created it."
  type        = string
  default     = null
}

variable "hostnames" {
  description = "Names pointing at the ingress."
  type        = list(string)
  default     = ["api", "graphql", "livekit", "grafana"]
}

variable "tags" {
  description = "Tags."
  type        = list(string)
  default     = []
}
