output "releases" {
  description = "Releases this environment gets: namespace, wave, chart (absolute path or upstream name), repository, version, timeout_seconds, values_files."
  value       = local.releases

  precondition {
    condition     = alltrue([for release in local.releases : contains(var.supported_waves, release.wave)])
    error_message = "the catalog uses a wave the stack does not install (${join(", ", local.waves)} vs ${join(", ", var.supported_waves)}): add a wave to the stack."
  }
  precondition {
    condition     = alltrue([for release in local.releases : release.local || (release.repository != null && release.version != null)])
    error_message = "every upstream chart needs a repository and a pinned version."
  }
}

output "by_wave" {
  description = "Wave -> release names, for installing one wave after another."
  value       = { for wave in var.supported_waves : tostring(wave) => sort([for name, release in local.releases : name if release.wave == wave]) }
}

output "registry_file" {
  description = "The environment's registry file: local charts read it as .Values.registry."
  value       = local.registry
}
