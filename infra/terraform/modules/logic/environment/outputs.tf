output "name" {
  description = "Environment name."
  value       = local.raw.name
}

output "cloud" {
  description = "aws, azure, linode or local."
  value       = local.raw.cloud
}

output "production_class" {
  description = "Whether the environment is production-class (deletion protection, approvals)."
  value       = local.raw.production_class
}

output "regions" {
  description = "primary, plus secondary list and disaster_recovery region where the registry has them."
  value = {
    primary           = local.raw.regions.primary
    secondary         = try(local.raw.regions.secondary, [])
    disaster_recovery = try(local.raw.regions.disaster_recovery, null)
  }
}

output "cluster" {
  description = "Cluster name, Kubernetes version and node pools with registry defaults filled in."
  value = {
    name               = local.raw.cluster.name
    kubernetes_version = local.raw.cluster.kubernetes_version
    node_pools         = local.node_pools
  }
}

output "network" {
  description = "cidr, availability_zones and named subnets, or null."
  value       = local.network
}

output "namespaces" {
  description = "Namespace role -> namespace."
  value       = local.raw.namespaces
}

output "terraform" {
  description = "stack, state_backend, workload, stage, dns_zone."
  value       = local.raw.terraform
}

output "values_layers" {
  description = "Helm values directories, in order (repository-relative)."
  value       = local.raw.helm.values_layers
}

output "disaster_recovery" {
  description = "RTO/RPO targets, drill schedule and recovery network, or null."
  value       = try(local.raw.disaster_recovery, null)
}

output "autoscaling" {
  description = "Pod autoscaling bounds and targets."
  value       = local.raw.autoscaling
}

output "repository_root" {
  description = "Absolute path of the repository (charts and values are read from it)."
  value       = abspath("${local.registry_dir}/..")
}
