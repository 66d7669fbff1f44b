variable "environment" {
  description = "The environment's cloud, namespace roles and values layers (outputs of the environment module)."
  type = object({
    name          = string
    cloud         = string
    namespaces    = map(string)
    values_layers = list(string)
  })
}

variable "repository_root" {
  description = "Absolute path of the repository: the catalog, local charts and values layers live under it."
  type        = string
}

variable "catalog_file" {
  description = "Release catalog, relative to repository_root."
  type        = string
  default     = "charts/releases.yaml"

  validation {
    condition     = endswith(var.catalog_file, ".yaml")
    error_message = "catalog_file must be a YAML file (charts/releases.yaml)."
  }
}

variable "supported_waves" {
  description = "Waves the calling stack installs, in order; a catalog wave outside this list is an error, not a silently skipped release."
  type        = list(number)
  default     = [-20, -10, 0, 5, 10]
}
