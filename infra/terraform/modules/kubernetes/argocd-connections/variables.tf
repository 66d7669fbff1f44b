variable "argocd_namespace" {
  description = "Namespace Argo CD runs in (the cluster owner's system namespace)."
  type        = string
}

variable "connection_facts" {
  description = "Fact -> value, as charts/connections.yaml names the facts."
  type        = map(string)

  validation {
    condition     = alltrue([for fact in keys(var.connection_facts) : can(regex("^[a-z][a-z0-9-]{0,40}$", fact))])
    error_message = "fact names are lower-case words joined by hyphens, as in charts/connections.yaml."
  }
}
