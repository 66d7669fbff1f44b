output "cluster_id" {
  description = "LKE cluster id."
  value       = module.lke.id
}

output "databases" {
  description = "Primary host per service database."
  value       = module.databases.hosts
}

output "buckets" {
  description = "Object Storage buckets."
  value       = module.object_storage.buckets
}
