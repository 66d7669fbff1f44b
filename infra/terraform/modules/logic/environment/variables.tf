variable "name" {
  description = "Registry environment name: reads environments/resolved/<name>.json (invoke env.generate)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be a registry environment name (lowercase letters, digits, hyphens)."
  }

  validation {
    # Inline, not through locals: those depend on var.name and would form a cycle.
    condition     = fileexists("${coalesce(var.registry_dir, abspath("${path.module}/../../../../../environments"))}/resolved/${var.name}.json")
    error_message = "unknown environment ${var.name}: environments/resolved/${var.name}.json does not exist (invoke env.generate writes it from environments/${var.name}.yaml)."
  }
}

variable "registry_dir" {
  description = "Directory of the registry; the repository's environments/ unless a test points elsewhere."
  type        = string
  default     = null
}

variable "stack_dir" {
  description = "abspath(path.root) of the calling stack: must be the stack the registry names for this environment."
  type        = string
  default     = null

  validation {
    condition     = var.stack_dir == null || endswith(coalesce(var.stack_dir, "-"), try(local.environment.terraform.stack, "(none)"))
    error_message = "this stack is not the one environments/${var.name}.yaml names in terraform.stack (${try(local.environment.terraform.stack, "none")})."
  }
}
