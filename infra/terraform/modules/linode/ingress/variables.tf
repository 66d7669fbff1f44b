variable "label" {
  description = "NodeBalancer label."
  type        = string
}

variable "region" {
  description = "Linode region of the cluster."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = list(string)
  default     = []
}
