locals {
  catalog  = yamldecode(file("${var.repository_root}/${var.catalog_file}")).releases
  clouds   = ["aws", "azure", "linode", "local"]
  seconds  = { s = 1, m = 60, h = 3600 }
  registry = "${var.repository_root}/environments/${var.environment.name}.yaml"

  # The same selection as voiceops/catalog.py releases_for(): the release's cloud list
  # includes the environment's cloud and the environment maps its namespace role.
  releases = {
    for name, spec in local.catalog : name => {
      namespace  = var.environment.namespaces[spec.namespace]
      wave       = spec.wave
      local      = can(spec.chart.path)
      chart      = can(spec.chart.path) ? "${var.repository_root}/${spec.chart.path}" : spec.chart.name
      repository = try(spec.chart.repository, null)
      version    = try(spec.chart.version, null)
      timeout_seconds = (
        tonumber(regex("^(\\d+)[smh]$", try(spec.timeout, "10m"))[0]) *
        local.seconds[regex("^\\d+([smh])$", try(spec.timeout, "10m"))[0]]
      )
      values_files = [
        for layer in var.environment.values_layers : "${var.repository_root}/${layer}/${name}.yaml"
        if fileexists("${var.repository_root}/${layer}/${name}.yaml")
      ]
    }
    if contains(try(spec.clouds, local.clouds), var.environment.cloud) && contains(keys(var.environment.namespaces), spec.namespace)
  }

  waves = sort(distinct([for release in local.releases : tostring(release.wave)]))
}
