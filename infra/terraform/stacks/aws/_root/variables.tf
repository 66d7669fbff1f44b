variable "admin_principal_arns" {
  description = "IAM roles with cluster-admin access entries (CI deploy role, break-glass role)."
  type        = list(string)
  default     = []
}

variable "install_releases" {
  description = "Install the catalog's Helm releases; false for a first apply that builds the cluster only."
  type        = bool
  default     = true
}
