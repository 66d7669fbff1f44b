variable "secrets" {
  description = "Entries to create, without values (secrets/bundles/; values never pass through Terraform state): entry name -> description."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting the secrets."
  type        = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret stays recoverable."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_days >= 7 && var.recovery_window_days <= 30
    error_message = "recovery_window_days must be 7-30."
  }
}

variable "tags" {
  description = "Tags for every secret."
  type        = map(string)
  default     = {}
}
