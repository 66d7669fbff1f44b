variable "name" {
  description = "Web ACL name."
  type        = string
}

variable "scope" {
  description = "REGIONAL (the ALB) or CLOUDFRONT (must be created in us-east-1)."
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "CLOUDFRONT"], var.scope)
    error_message = "scope must be REGIONAL or CLOUDFRONT."
  }
}

variable "rate_limit_per_5_minutes" {
  description = "Requests one client IP may make in five minutes before it is blocked."
  type        = number
  default     = 2000
}

variable "log_retention_days" {
  description = "CloudWatch retention of WAF logs."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key encrypting the WAF log group."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
