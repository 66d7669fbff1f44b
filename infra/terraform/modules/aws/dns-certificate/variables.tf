variable "hosts" {
  description = "Fully qualified names the certificate covers (the first is its subject)."
  type        = list(string)

  validation {
    condition     = length(var.hosts) > 0
    error_message = "A certificate covers at least one host."
  }
}

variable "zone_id" {
  description = "Route 53 zone holding the validation records."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
