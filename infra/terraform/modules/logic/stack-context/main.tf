# What every stack starts from: the registry entry, names and tags, and the node
# pools in the shape of the environment's cloud.
module "environment" {
  source = "../environment"

  name         = var.environment
  stack_dir    = var.stack_dir
  registry_dir = var.registry_dir
}

module "naming" {
  source = "../naming"

  workload    = module.environment.terraform.workload
  stage       = module.environment.terraform.stage
  environment = module.environment.name
  cloud       = module.environment.cloud
  region      = module.environment.regions.primary
}

module "node_pools" {
  source = "../node-pools"

  cloud = module.environment.cloud
  pools = module.environment.cluster.node_pools
}
