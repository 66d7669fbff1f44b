variable "alias" {
  description = "Alias without the alias/ prefix, e.g. voiceops-live-rds."
  type        = string
}

variable "description" {
  description = "What the key encrypts."
  type        = string
}

variable "service_principals" {
  description = "AWS service principals (logs.us-west-2.amazonaws.com, ...) allowed to use the key."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the key."
  type        = map(string)
  default     = {}
}
