locals {
  releases = { for name, release in var.releases : name => release if release.wave == var.wave }
}

resource "helm_release" "this" {
  for_each = local.releases

  name             = each.key
  namespace        = each.value.namespace
  create_namespace = true
  chart            = each.value.chart
  repository       = each.value.repository
  version          = each.value.version

  # Same layering as `invoke render`: each values layer in order, then what Terraform adds.
  values = concat(
    [for path in each.value.values_files : file(path)],
    each.value.local ? [yamlencode({ registry = file(var.registry_file) })] : [],
    contains(keys(var.extra_values), each.key) ? [var.extra_values[each.key]] : [],
  )

  dependency_update = each.value.local
  atomic            = true
  cleanup_on_fail   = true
  wait              = true
  timeout           = each.value.timeout_seconds
  max_history       = 10
}
