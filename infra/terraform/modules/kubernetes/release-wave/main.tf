resource "helm_release" "this" {
  for_each = var.releases

  name             = each.key
  namespace        = each.value.namespace
  create_namespace = false # the `namespaces` release (first wave) owns every namespace
  chart            = each.value.chart
  repository       = each.value.repository
  version          = each.value.version

  # Same values as `invoke render` and `invoke deploy`: the values files in layer order, the
  # whole-file values (the registry for our charts), then what only Terraform knows.
  values = concat(
    [for path in each.value.values_files : file(path)],
    [for name, path in each.value.file_values : yamlencode({ (name) = file(path) })],
    try([var.extra_values[each.key]], []),
  )
  # a fact the stack does not publish fails the plan here instead of installing a placeholder;
  # the addresses of the environment's own services come resolved
  set = concat(
    [
      for connection in each.value.connections : {
        name  = connection.value
        value = var.connection_facts[connection.fact]
        type  = "string"
      }
    ],
    [for name, value in each.value.parameters : { name = name, value = value, type = "string" }],
  )

  dependency_update = each.value.dependency_update
  atomic            = true
  cleanup_on_fail   = true
  wait              = true
  timeout           = each.value.timeout_seconds
  max_history       = 10
}
