# Seed 002: one LKE cluster in fr-par shared by development, staging and production.
module "environment" {
  source = "../../../modules/logic/environment"

  name      = local.environment
  stack_dir = abspath(path.root)
}

module "naming" {
  source = "../../../modules/logic/naming"

  workload    = module.environment.terraform.workload
  stage       = module.environment.terraform.stage
  environment = module.environment.name
  cloud       = "linode"
  region      = module.environment.regions.primary
}

module "node_pools" {
  source = "../../../modules/logic/node-pools"

  cloud = "linode"
  pools = module.environment.cluster.node_pools
}

locals {
  region = module.environment.regions.primary
  tags   = module.naming.tag_list
}

module "firewall" {
  source = "../../../modules/linode/firewall"

  label = module.naming.names.firewall
  tags  = local.tags
}

module "lke" {
  source = "../../../modules/linode/lke"

  label                      = module.environment.cluster.name
  region                     = local.region
  kubernetes_version         = module.environment.cluster.kubernetes_version
  pools                      = module.node_pools.lke_pools
  firewall_id                = module.firewall.id
  control_plane_allowed_ipv4 = var.control_plane_allowed_ipv4
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

  prefix     = module.naming.prefix
  region     = local.region
  allow_list = [for node in data.linode_instances.nodes.instances : "${node.ip_address}/32"]
  tags       = local.tags
}

module "object_storage" {
  source = "../../../modules/linode/object-storage"

  prefix = module.naming.prefix
  region = local.region
  tags   = local.tags
}

module "dns" {
  source = "../../../modules/linode/dns"

  domain          = module.environment.terraform.dns_zone
  soa_email       = var.soa_email
  ingress_address = var.ingress_address
  tags            = local.tags
}
