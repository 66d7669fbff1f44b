variable "environment" {
  description = "Registry environment the calling stack builds (environments/<name>.yaml, read resolved)."
  type        = string

  validation {
    # Inline: locals would depend on this variable and form a cycle.
    condition     = try(jsondecode(file("${coalesce(var.registry_dir, abspath("${path.module}/../../../../../environments"))}/resolved/${var.environment}.json")).environment.terraform != null, false)
    error_message = "environments/${var.environment}.yaml has no terraform section: only cloud environments owning a cluster have a stack."
  }
}

variable "stack_dir" {
  description = "abspath(path.root) of the calling stack, checked against the registry's terraform.stack."
  type        = string
  default     = null
}

variable "registry_dir" {
  description = "Directory of the registry; the repository's environments/ unless a test points elsewhere."
  type        = string
  default     = null
}
