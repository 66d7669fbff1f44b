# Seed 002: one LKE cluster in fr-par shared by development, staging and production.
module "context" {
  source = "../../../modules/logic/stack-context"

  environment = local.environment
  stack_dir   = abspath(path.root)
}

locals {
  region = module.context.regions.primary
  tags   = module.context.tag_list
}

module "firewall" {
  source = "../../../modules/linode/firewall"

  label = module.context.names.firewall
  tags  = local.tags
}

module "lke" {
  source = "../../../modules/linode/lke"

  label                      = module.context.cluster.name
  region                     = local.region
  kubernetes_version         = module.context.cluster.kubernetes_version
  pools                      = module.context.lke_pools
  firewall_id                = module.firewall.id
  control_plane_allowed_ipv4 = concat(local.registry.cluster.api_access.allowed_cidrs, ["${linode_instance.delivery_runner.ip_address}/32"])
  tags                       = local.tags
}

data "linode_instances" "nodes" {
  filter {
    name   = "id"
    values = [for id in module.lke.node_instance_ids : tostring(id)]
  }
}

module "databases" {
  source = "../../../modules/linode/databases"

  prefix = module.context.prefix
  region = local.region
  # the nodes, and the delivery runner, where secrets.rotate sets the services' users
  allow_list = concat(
    [for node in data.linode_instances.nodes.instances : "${node.ip_address}/32"],
    ["${linode_instance.delivery_runner.ip_address}/32"],
  )
  tags = local.tags
}

module "object_storage" {
  source = "../../../modules/linode/object-storage"

  prefix = module.context.prefix
  region = local.region
  tags   = local.tags
}

module "ingress" {
  source = "../../../modules/linode/ingress"

  label  = "${module.context.cluster.name}-ingress"
  region = local.region
  tags   = local.tags
}

module "dns" {
  source = "../../../modules/linode/dns"

  domain          = module.context.terraform.dns_zone
  soa_email       = var.soa_email
  ingress_address = module.ingress.ipv4
  hosts           = [for host in values(module.context.entry_hosts) : trimsuffix(host, ".${module.context.terraform.dns_zone}")]
  tags            = local.tags
}

# Loki's values file names its buckets (charts/values/<owner>/loki.yaml); they must be the ones
# this stack creates, or Loki would write nowhere.
check "loki_buckets_exist" {
  assert {
    condition = alltrue([
      for name in values(yamldecode(file("${path.root}/../../../../../charts/values/${local.environment}/loki.yaml")).loki.storage.bucketNames) :
      contains(values(module.object_storage.buckets), name)
    ])
    error_message = "charts/values/${local.environment}/loki.yaml names Loki buckets the object-storage module does not create."
  }
}

# `invoke tf.bootstrap` creates the state bucket before the first plan (Terraform needs it to
# start); the object-storage module manages it from the first apply on.
import {
  to = module.object_storage.linode_object_storage_bucket.this["terraform-state"]
  id = "${local.region}:${module.context.prefix}-terraform-state"
}
