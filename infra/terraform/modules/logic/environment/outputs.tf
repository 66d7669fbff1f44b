output "name" {
  description = "Environment name."
  value       = local.environment.name
}

output "cloud" {
  description = "aws, azure, linode or local."
  value       = local.environment.cloud
}

output "production_class" {
  description = "Whether the environment is production-class (deletion protection, approvals)."
  value       = local.environment.production_class
}

output "regions" {
  description = "primary, plus secondary list and disaster_recovery region where the registry has them."
  value       = local.environment.regions
}

output "cluster" {
  description = "Cluster name, Kubernetes version, shared_with and node pools with registry defaults filled in."
  value       = local.environment.cluster
}

output "network" {
  description = "cidr, availability_zones and named subnets, or null."
  value       = local.environment.network
}

output "namespaces" {
  description = "Namespace role -> namespace."
  value       = local.environment.namespaces
}

output "terraform" {
  description = "stack, state_backend, workload, stage, dns_zone."
  value       = local.environment.terraform
}

output "disaster_recovery" {
  description = "RTO/RPO targets, drill schedule and recovery network, or null."
  value       = local.environment.disaster_recovery
}

output "autoscaling" {
  description = "Pod autoscaling bounds and targets."
  value       = local.environment.autoscaling
}

output "release_waves" {
  description = "Wave -> release name -> helm_release arguments (paths relative to the stack); every catalog wave is a key."
  value       = try(local.resolved.release_waves, {})
}


output "entry_hosts" {
  description = "Public route name -> fully qualified host (registry ingress.routes under terraform.dns_zone); empty where the environment serves nothing."
  value = {
    for route in try(local.environment.ingress.routes, []) :
    route.name => "${route.host}.${local.environment.terraform.dns_zone}"
  }
}

output "store_entries" {
  description = "The secret-store entries the stack creates (secrets/bundles/, resolved): entry name -> {environment, name, description, rotation_days}; values never pass through Terraform."
  value       = { for entry in try(local.resolved.store_entries, []) : entry.entry => entry }
}
