variable "environment" {
  description = "Registry environment (environments/<name>.yaml) this stack builds."
  type        = string
}

variable "stack_dir" {
  description = "abspath(path.root) of the calling stack, checked against the registry's terraform.stack."
  type        = string
}

variable "admin_principal_arns" {
  description = "IAM roles with cluster-admin access entries (the CI deploy role, the platform team's break-glass role)."
  type        = list(string)
  default     = []
}

variable "install_releases" {
  description = "Install the catalog's Helm releases (seed 000); off for a first apply that only builds the cluster."
  type        = bool
  default     = true
}
