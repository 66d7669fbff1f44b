variable "prefix" {
  description = "Bucket label prefix."
  type        = string
}

variable "region" {
  description = "Object Storage region (seed 002: fr-par)."
  type        = string
}

variable "buckets" {
  description = "Seed 002's buckets: analytics exports, backups, Terraform state, the sealing key and Loki's chunks, ruler rules and admin state (its compactor applies the retention); expire_days null keeps objects."
  type = map(object({
    expire_days     = optional(number)
    noncurrent_days = optional(number, 30)
  }))
  default = {
    analytics-exports = { expire_days = 90 }
    backups           = { expire_days = 30 }
    terraform-state   = { noncurrent_days = 90 }
    # the Sealed Secrets key pair we bring to the cluster (voiceops/sealing_keys.py): never expires
    sealing-keys = { noncurrent_days = 3650 }
    loki-chunks  = {}
    loki-ruler   = {}
    loki-admin   = {}
  }
}

variable "tags" {
  description = "Tags."
  type        = list(string)
  default     = []
}
