output "buckets" {
  description = "Bucket label per purpose."
  value       = { for key, bucket in linode_object_storage_bucket.this : key => bucket.label }
}

output "access_keys" {
  description = "Access key id per bucket (the secret keys are sealed into the cluster with invoke secrets.seal)."
  value       = { for key, access in linode_object_storage_key.this : key => access.access_key }
}
