# Seed 000: Terraform installs every release through helm_release, one wave after another,
# from the releases the resolved environment lists per wave (environments/resolved/<env>.json).
locals {
  release_waves = module.context.release_waves
  # What only Terraform knows, handed to the charts next to their values files.
  extra_values = {
    livekit-egress = yamlencode({ egress = { s3 = { bucket = module.egress_bucket.id, region = local.primary } } })
  }
}

# NetworkPolicy is enforced on Auto Mode only with the network policy controller switched on
# and on nodes whose NodeClass enables it; the built-in NodeClass does not, so the registry's
# pools launch from this one (same node role, subnets and security group as the cluster).
resource "kubernetes_config_map_v1" "network_policy_controller" {
  count = var.install_releases ? 1 : 0

  metadata {
    name      = "amazon-vpc-cni"
    namespace = "kube-system"
  }
  data = { "enable-network-policy-controller" = "true" }

  depends_on = [module.eks]
}

resource "kubernetes_manifest" "node_class" {
  # voiceops: the private subnets; voiceops-public: the registry's public pools (host-networked
  # media: LiveKit and SIP listen on the node's own address), public subnets and addresses
  for_each = var.install_releases ? {
    voiceops        = { subnets = module.network.private_subnet_ids, public = false }
    voiceops-public = { subnets = module.network.public_subnet_ids, public = true }
  } : {}

  manifest = {
    apiVersion = "eks.amazonaws.com/v1"
    kind       = "NodeClass"
    metadata   = { name = each.key }
    spec = {
      role                       = module.eks.node_role_name
      subnetSelectorTerms        = [for id in each.value.subnets : { id = id }]
      securityGroupSelectorTerms = [{ id = module.eks.cluster_security_group_id }]
      networkPolicy              = "DefaultAllow"
      networkPolicyEventLogs     = "Disabled"
      advancedNetworking         = { associatePublicIPAddress = each.value.public }
    }
  }

  depends_on = [kubernetes_config_map_v1.network_policy_controller]
}

# Auto Mode node pools from the registry (general on spot, compute on demand, GPU tainted).
resource "kubernetes_manifest" "node_pool" {
  for_each = var.install_releases ? module.context.eks_node_pools : {}

  manifest   = each.value
  depends_on = [kubernetes_manifest.node_class]
}

module "wave_namespaces" {
  source = "../../kubernetes/release-wave"

  releases         = var.install_releases ? local.release_waves["-30"] : {}
  extra_values     = local.extra_values
  connection_facts = local.connection_facts
  depends_on       = [kubernetes_manifest.node_pool, module.eks]
}

module "wave_operators" {
  source = "../../kubernetes/release-wave"

  releases         = var.install_releases ? local.release_waves["-20"] : {}
  extra_values     = local.extra_values
  connection_facts = local.connection_facts
  depends_on       = [module.wave_namespaces]
}

module "wave_cluster_objects" {
  source = "../../kubernetes/release-wave"

  releases         = var.install_releases ? local.release_waves["-10"] : {}
  extra_values     = local.extra_values
  connection_facts = local.connection_facts
  depends_on       = [module.wave_operators]
}

module "wave_cluster_services" {
  source = "../../kubernetes/release-wave"

  releases         = var.install_releases ? local.release_waves["0"] : {}
  extra_values     = local.extra_values
  connection_facts = local.connection_facts
  depends_on       = [module.wave_cluster_objects]
}

module "wave_media" {
  source = "../../kubernetes/release-wave"

  releases         = var.install_releases ? local.release_waves["5"] : {}
  extra_values     = local.extra_values
  connection_facts = local.connection_facts
  depends_on       = [module.wave_cluster_services]
}

module "wave_applications" {
  source = "../../kubernetes/release-wave"

  releases         = var.install_releases ? local.release_waves["10"] : {}
  extra_values     = local.extra_values
  connection_facts = local.connection_facts
  depends_on       = [module.wave_media]
}

check "every_catalog_wave_is_installed" {
  assert {
    # a wave added to the catalog needs a wave module here, or its releases would never install
    condition     = toset(keys(local.release_waves)) == toset(["-30", "-20", "-10", "0", "5", "10"])
    error_message = "the resolved environment has waves ${join(", ", keys(local.release_waves))}; this module installs -30, -20, -10, 0, 5 and 10."
  }
}

moved {
  from = kubernetes_manifest.node_class[0]
  to   = kubernetes_manifest.node_class["voiceops"]
}
