locals {
  # The registry entry this stack builds; the stack directory names it once.
  environment = basename(abspath(path.root))
  registry    = jsondecode(file("${path.root}/../../../../../environments/resolved/${local.environment}.json")).environment
}

provider "aws" {
  region = local.registry.regions.primary
  default_tags {
    tags = { environment = local.environment, managed-by = "terraform" }
  }
}

# Seed 003's recovery region; environments without one point it at the primary, unused.
provider "aws" {
  alias  = "disaster_recovery"
  region = coalesce(local.registry.regions.disaster_recovery, local.registry.regions.primary)
  default_tags {
    tags = { environment = local.environment, managed-by = "terraform" }
  }
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
  default_tags {
    tags = { environment = local.environment, managed-by = "terraform" }
  }
}

provider "helm" {
  kubernetes = {
    host                   = module.platform.cluster.endpoint
    cluster_ca_certificate = base64decode(module.platform.cluster_certificate_authority)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", local.registry.cluster.name, "--region", local.registry.regions.primary]
    }
  }
}

provider "kubernetes" {
  host                   = module.platform.cluster.endpoint
  cluster_ca_certificate = base64decode(module.platform.cluster_certificate_authority)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", local.registry.cluster.name, "--region", local.registry.regions.primary]
  }
}
