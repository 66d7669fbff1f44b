variable "name" {
  description = "Gateway name (seed 004: appgw-voiceassistant-prod)."
  type        = string
}

variable "waf_policy_name" {
  description = "Name of the separate WAF policy."
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
  description = "gateway subnet."
  type        = string
}

variable "autoscale" {
  description = "Instance bounds (seed 004: 2-10)."
  type = object({
    min = number
    max = number
  })
  default = { min = 2, max = 10 }

  validation {
    condition     = var.autoscale.min >= 2 && var.autoscale.min <= var.autoscale.max && var.autoscale.max <= 125
    error_message = "autoscale needs 2 <= min <= max <= 125 (two instances for zone redundancy)."
  }
}

variable "backend_address" {
  description = "Private address of the AKS ingress controller's internal load balancer."
  type        = string
}

variable "backend_port" {
  description = "Plain-HTTP port of that load balancer (the ingress controller Service's http port)."
  type        = number
  default     = 80
}

variable "identity_id" {
  description = "User-assigned identity allowed to read the certificate from Key Vault (granted by the caller first)."
  type        = string
}

variable "certificate_secret_id" {
  description = "Key Vault secret id of the TLS certificate for the public listener."
  type        = string
}

variable "hostname" {
  description = "Health-probe host, e.g. api.voiceassistant.example.com."
  type        = string
}

variable "rate_limit_per_minute" {
  description = "Requests per client IP per minute before the WAF blocks (seed 004: rate limiting at the gateway)."
  type        = number
  default     = 600
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
