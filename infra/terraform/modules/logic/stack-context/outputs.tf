output "name" {
  description = "Environment name."
  value       = module.environment.name
}

output "cloud" {
  description = "aws, azure or linode."
  value       = module.environment.cloud
}

output "production_class" {
  description = "Whether the environment is production-class."
  value       = module.environment.production_class
}

output "regions" {
  description = "primary, secondary and disaster_recovery regions."
  value       = module.environment.regions
}

output "cluster" {
  description = "Cluster name, Kubernetes version and node pools."
  value       = module.environment.cluster
}

output "network" {
  description = "cidr, availability_zones and named subnets, or null."
  value       = module.environment.network
}

output "namespaces" {
  description = "Namespace role -> namespace."
  value       = module.environment.namespaces
}

output "terraform" {
  description = "stack, state_backend, workload, stage, dns_zone."
  value       = module.environment.terraform
}

output "disaster_recovery" {
  description = "RTO/RPO targets and recovery network, or null."
  value       = module.environment.disaster_recovery
}

output "release_waves" {
  description = "Wave -> release name -> helm_release arguments, as the resolved environment gives them."
  value       = module.environment.release_waves
}

output "names" {
  description = "Resource names for the environment's cloud."
  value       = module.naming.names
}

output "prefix" {
  description = "<workload>-<stage>."
  value       = module.naming.prefix
}

output "tags" {
  description = "Tags as a map (AWS, Azure)."
  value       = module.naming.tags
}

output "tag_list" {
  description = "Tags as key:value strings (Linode)."
  value       = module.naming.tag_list
}

output "aks_pools" {
  description = "Node pools in AKS shape."
  value       = module.node_pools.aks_pools
}

output "lke_pools" {
  description = "Node pools in LKE shape."
  value       = module.node_pools.lke_pools
}

output "eks_node_pools" {
  description = "EKS Auto Mode NodePool manifests."
  value       = module.node_pools.eks_node_pools
}

output "entry_hosts" {
  description = "Public route name -> fully qualified host; every one gets a DNS record pointing at the cloud's entry load balancer."
  value       = module.environment.entry_hosts
}

output "store_entries" {
  description = "The secret-store entries of the environment and of those its cluster hosts (secrets/bundles/)."
  value       = module.environment.store_entries
}
