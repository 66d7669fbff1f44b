variable "releases" {
  description = "One wave's releases from the resolved environment (release_waves[<wave>]): helm_release arguments, paths relative to the stack."
  type = map(object({
    namespace         = string
    chart             = string
    repository        = string
    version           = string
    dependency_update = bool
    timeout_seconds   = number
    values_files      = list(string)
    file_values       = map(string)
    connections       = list(object({ value = string, fact = string }))
    parameters        = map(string)
  }))
}

variable "connection_facts" {
  description = "What the stack knows after apply (charts/connections.yaml facts): fact -> value, set on each release's `connections` values."
  type        = map(string)
  default     = {}
}

variable "extra_values" {
  description = "Values Terraform knows and the values files cannot (role ARNs, endpoints): release -> YAML document."
  type        = map(string)
  default     = {}
}
