locals {
  registry_dir = coalesce(var.registry_dir, abspath("${path.module}/../../../../../environments"))
  # Written by `invoke env.generate`: registry defaults filled in, releases selected. This module
  # reads it as it is and decides nothing.
  resolved    = jsondecode(file("${local.registry_dir}/resolved/${var.name}.json"))
  environment = local.resolved.environment
}
