output "cluster" {
  description = "EKS cluster name and endpoint."
  value       = module.platform.cluster
}

output "data_stores" {
  description = "Managed data store endpoints."
  value       = module.platform.data_stores
}

output "name_servers" {
  description = "Delegate the DNS zone to these."
  value       = module.platform.name_servers
}

output "recovery" {
  description = "Recovery-region replica endpoint."
  value       = module.platform.recovery
}

output "release_revisions" {
  description = "Helm revision per release."
  value       = module.platform.release_revisions
}
