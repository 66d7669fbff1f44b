locals {
  registry_dir = coalesce(var.registry_dir, abspath("${path.module}/../../../../../environments"))
  file         = "${local.registry_dir}/${var.name}.yaml"
  found        = fileexists(local.file)
  raw          = yamldecode(local.found ? file(local.file) : "{}")

  # Defaults the registry schema (voiceops/environments.py) fills in, filled the same way here.
  node_pools = [
    for pool in try(local.raw.cluster.node_pools, []) : merge(
      { taints = [], autoscaling = true, gpu = false, spot = false }, pool
    )
  ]
  network = try(local.raw.network, null) == null ? null : merge(
    { availability_zones = 3, subnets = {} }, local.raw.network
  )
}
