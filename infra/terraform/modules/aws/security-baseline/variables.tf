variable "name" {
  description = "Prefix of the trail and its bucket."
  type        = string
}

variable "enable_cloudtrail" {
  description = "Multi-region CloudTrail with log file validation."
  type        = bool
  default     = true
}

variable "enable_guardduty" {
  description = "GuardDuty detector with EKS audit-log and runtime monitoring."
  type        = bool
  default     = true
}

variable "enable_security_hub" {
  description = "Security Hub with the AWS Foundational Security Best Practices standard."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key for the trail, its log group and bucket (must allow cloudtrail.amazonaws.com)."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving the trail bucket's access logs."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch retention of the trail's log group."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
