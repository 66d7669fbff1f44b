variable "workload" {
  description = "Workload name inside resource names, e.g. voiceassistant (seed 004) or voiceops."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,19}$", var.workload))
    error_message = "workload must be 3-20 lowercase letters or digits, starting with a letter (it goes into storage account and registry names)."
  }
}

variable "stage" {
  description = "Short stage inside resource names, e.g. prod."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.stage))
    error_message = "stage must be 2-10 lowercase letters or digits, starting with a letter."
  }
}

variable "environment" {
  description = "Registry environment name (environments/<name>.yaml), written into every tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.environment))
    error_message = "environment must be a registry name: lowercase letters, digits and hyphens."
  }
}

variable "cloud" {
  description = "aws, azure or linode: each has its own naming rules."
  type        = string

  validation {
    condition     = contains(["aws", "azure", "linode"], var.cloud)
    error_message = "cloud must be one of aws, azure, linode."
  }
}

variable "region" {
  description = "Primary region of the environment."
  type        = string
}

variable "extra_tags" {
  description = "Tags added to the standard set (owner, cost centre)."
  type        = map(string)
  default     = {}
}
