variable "name" {
  description = "Prefix of the edge resources."
  type        = string
}

variable "zone_name" {
  description = "Public DNS zone (registry terraform.dns_zone)."
  type        = string
}

variable "hosts" {
  description = "Fully qualified hosts under the zone served through CloudFront (the registry's public routes)."
  type        = list(string)

  validation {
    condition     = length(var.hosts) > 0
    error_message = "The edge serves at least one host: give the environment ingress.routes in the registry."
  }
}

variable "origin_domain_name" {
  description = "DNS name of the ALB that Auto Mode creates for the ingress; null until the first deploy has created it."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key in us-east-1 for the edge log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of CloudFront access and DNS query logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
