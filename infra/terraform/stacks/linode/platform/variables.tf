variable "control_plane_allowed_ipv4" {
  description = "CIDRs reaching the LKE API server (CI runners, VPN)."
  type        = list(string)
  default     = ["192.0.2.0/24"]
}

variable "ingress_address" {
  description = "Ingress NodeBalancer address once the ingress controller exists; adds the DNS records."
  type        = string
  default     = null
}

variable "soa_email" {
  description = "SOA contact of the zone."
  type        = string
  default     = "platform@voiceops.example"
}
