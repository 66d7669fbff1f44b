variable "workspace_name" {
  description = "Log Analytics workspace (seed 004: log-voiceassistant-prod)."
  type        = string
}

variable "insights_name" {
  description = "Application Insights (seed 004: appi-voiceassistant-prod)."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group."
  type        = string
}

variable "retention_days" {
  description = "Default retention (seed 004: 30 days)."
  type        = number
  default     = 30
}

variable "audit_retention_days" {
  description = "Retention of the audit tables (seed 004: 90 days)."
  type        = number
  default     = 90

  validation {
    condition     = var.audit_retention_days >= 90
    error_message = "audit logs are kept at least 90 days (seed 004)."
  }
}

variable "audit_tables" {
  description = "Resource-specific tables holding audit logs."
  type        = set(string)
  default     = ["AKSAudit", "AKSAuditAdmin", "AzureActivity"]
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
