variable "wave" {
  description = "The catalog wave this instance installs; the caller orders instances with depends_on."
  type        = number
}

variable "releases" {
  description = "The release-catalog module's releases output (all waves; this module keeps its own)."
  type = map(object({
    namespace       = string
    wave            = number
    local           = bool
    chart           = string
    repository      = string
    version         = string
    timeout_seconds = number
    values_files    = list(string)
  }))
}

variable "registry_file" {
  description = "environments/<env>.yaml: local charts read it as .Values.registry (as `invoke render` passes it with --set-file)."
  type        = string
}

variable "extra_values" {
  description = "Values Terraform knows and the values files cannot (role ARNs, endpoints): release -> YAML document."
  type        = map(string)
  default     = {}
}
