variable "name" {
  description = "Bucket name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS."
  type        = string
}

variable "lifecycle_rules" {
  description = "Storage-class transitions and expiry for current objects; noncurrent versions expire after noncurrent_days."
  type = object({
    infrequent_access_days = optional(number)
    glacier_days           = optional(number)
    expire_days            = optional(number)
    noncurrent_days        = optional(number, 30)
  })
  default = {}

  validation {
    condition = (
      var.lifecycle_rules.infrequent_access_days == null || var.lifecycle_rules.infrequent_access_days >= 30) && (
      var.lifecycle_rules.expire_days == null || var.lifecycle_rules.glacier_days == null || coalesce(var.lifecycle_rules.expire_days, 0) > coalesce(var.lifecycle_rules.glacier_days, 0)
    )
    error_message = "S3 needs 30 days before STANDARD_IA, and objects must expire after they reach Glacier."
  }
}

variable "access_log_bucket" {
  description = "Bucket receiving this bucket's server access logs; null for the log bucket itself."
  type        = string
  default     = null
}

variable "replication" {
  description = "Cross-region replication to a bucket of the recovery region."
  type = object({
    destination_bucket_arn  = string
    destination_kms_key_arn = string
  })
  default = null
}

variable "policy_documents" {
  description = "Further bucket policy documents (JSON) merged with the TLS-only statement, e.g. CloudTrail's write access."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Allow destroy of a non-empty bucket (ephemeral environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
