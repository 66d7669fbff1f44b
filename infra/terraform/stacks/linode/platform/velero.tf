# Velero's backup location is written once, in the cluster owner's values file; the bucket and
# endpoint there must be this stack's `backups` bucket in the cluster's region, or every backup fails.
locals {
  velero_location = one(yamldecode(file("${path.root}/../../../../../charts/values/${local.environment}/velero.yaml")).configuration.backupStorageLocation)
}

output "velero_backup_location" {
  description = "The bucket Velero backs the cluster up to, and the id of the key sealed for it."
  value       = { bucket = local.velero_location.bucket, access_key = module.object_storage.access_keys["backups"] }

  precondition {
    condition = (local.velero_location.bucket == module.object_storage.buckets["backups"]
    && local.velero_location.config.s3Url == "https://${local.region}-1.linodeobjects.com")
    error_message = "charts/values/${local.environment}/velero.yaml must name this stack's backups bucket and its region's endpoint."
  }
}
