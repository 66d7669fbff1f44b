variable "prefix" {
  description = "Repository name prefix, e.g. voiceops-live."
  type        = string
}

variable "repositories" {
  description = "Image repositories (one per service image)."
  type        = set(string)

  validation {
    condition     = alltrue([for name in var.repositories : can(regex("^[a-z0-9][a-z0-9._-]*$", name))])
    error_message = "repository names take lowercase letters, digits, '.', '_' and '-'."
  }
}

variable "kms_key_arn" {
  description = "KMS key for image layers at rest."
  type        = string
}

variable "untagged_expiry_days" {
  description = "Untagged images are removed after this many days."
  type        = number
  default     = 14
}

variable "tags" {
  description = "Tags for every repository."
  type        = map(string)
  default     = {}
}
