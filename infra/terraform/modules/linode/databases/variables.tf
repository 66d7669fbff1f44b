variable "prefix" {
  description = "Label prefix, e.g. voiceops-platform."
  type        = string
}

variable "region" {
  description = "Linode region."
  type        = string
}

variable "databases" {
  description = "One managed PostgreSQL per service (seed 002): user and organization service; analytics with TimescaleDB; Temporal's persistence and visibility databases, one pair per environment of the cluster."
  type = map(object({
    type        = optional(string, "g6-dedicated-2")
    nodes       = optional(number, 3)
    timescaledb = optional(bool, false)
  }))
  default = {
    users     = {}
    analytics = { timescaledb = true }
    temporal  = {}
  }

  validation {
    condition     = alltrue([for database in values(var.databases) : contains([1, 3], database.nodes)])
    error_message = "nodes must be 1 or 3 (3 gives the managed high-availability setup)."
  }
}

variable "engine" {
  description = "Engine id of Linode Managed Databases."
  type        = string
  default     = "postgresql/16"
}

variable "allow_list" {
  description = "CIDRs allowed to connect (the LKE nodes and the delivery runner); empty admits nobody."
  type        = list(string)

  validation {
    condition     = !contains(var.allow_list, "0.0.0.0/0")
    error_message = "allow_list must not admit the whole internet."
  }
}

variable "tags" {
  description = "Tags."
  type        = list(string)
  default     = []
}
