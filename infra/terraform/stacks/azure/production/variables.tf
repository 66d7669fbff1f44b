variable "admin_group" {
  description = "Entra ID group administering AKS and PostgreSQL (object id and display name)."
  type = object({
    object_id = string
    name      = string
  })
  default = {
    object_id = "00000000-0000-0000-0000-000000000000"
    name      = "voiceassistant-platform-admins"
  }
}

variable "secondary_gateways" {
  description = "Seed 004's West EU and Asia SE deployments (region -> gateway FQDN) once they exist."
  type        = map(string)
  default     = {}
}

variable "certificate_issuer" {
  description = "Key Vault certificate issuer for *.<zone>: Self until an integrated CA is registered in the vault."
  type        = string
  default     = "Self"
}

variable "annotate_service_accounts" {
  description = "Write the workload identities' client ids onto the releases' service accounts. The first apply of a new environment sets it false: the accounts exist once Argo CD has synced the releases."
  type        = bool
  default     = true
}
