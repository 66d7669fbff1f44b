# Seed 000: Terraform installs every release through helm_release, reading the one
# release catalog (charts/releases.yaml), one wave after another.
module "catalog" {
  source = "../../logic/release-catalog"

  repository_root = module.context.repository_root
  environment = {
    name          = module.context.name
    cloud         = module.context.cloud
    namespaces    = module.context.namespaces
    values_layers = module.context.values_layers
  }
}

locals {
  releases = var.install_releases ? module.catalog.releases : {}
  # What only Terraform knows, handed to the charts next to their values files.
  extra_values = {
    livekit-egress = yamlencode({ egress = { s3 = { bucket = module.egress_bucket.id, region = local.primary } } })
  }
}

# Auto Mode node pools from the registry (general on spot, compute on demand).
resource "kubernetes_manifest" "node_pool" {
  for_each = var.install_releases ? module.context.eks_node_pools : {}

  manifest = each.value
}

module "wave_operators" {
  source = "../../kubernetes/release-wave"

  wave          = -20
  releases      = local.releases
  registry_file = module.catalog.registry_file
  extra_values  = local.extra_values
  depends_on    = [kubernetes_manifest.node_pool, module.eks]
}

module "wave_cluster_objects" {
  source = "../../kubernetes/release-wave"

  wave          = -10
  releases      = local.releases
  registry_file = module.catalog.registry_file
  extra_values  = local.extra_values
  depends_on    = [module.wave_operators]
}

module "wave_cluster_services" {
  source = "../../kubernetes/release-wave"

  wave          = 0
  releases      = local.releases
  registry_file = module.catalog.registry_file
  extra_values  = local.extra_values
  depends_on    = [module.wave_cluster_objects]
}

module "wave_media" {
  source = "../../kubernetes/release-wave"

  wave          = 5
  releases      = local.releases
  registry_file = module.catalog.registry_file
  extra_values  = local.extra_values
  depends_on    = [module.wave_cluster_services]
}

module "wave_applications" {
  source = "../../kubernetes/release-wave"

  wave          = 10
  releases      = local.releases
  registry_file = module.catalog.registry_file
  extra_values  = local.extra_values
  depends_on    = [module.wave_media]
}
