output "buckets" {
  description = "Bucket label per purpose."
  value       = { for key, bucket in linode_object_storage_bucket.this : key => bucket.label }
}

output "access_keys" {
  description = "Access key id per bucket (secrets go to Linode Secret Manager via invoke secrets.rotate)."
  value       = { for key, access in linode_object_storage_key.this : key => access.access_key }
}
