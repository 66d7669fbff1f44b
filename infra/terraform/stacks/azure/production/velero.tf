# Velero's backup location is written once, in its values file; the names there must be the
# storage account, resource group and container this stack makes, or every backup fails.
locals {
  velero_location = one(yamldecode(file("${path.root}/../../../../../charts/values/${local.environment}/velero.yaml")).configuration.backupStorageLocation)
}

output "velero_backup_location" {
  description = "The container Velero backs the cluster up to."
  value       = "${local.velero_location.config.storageAccount}/${local.velero_location.bucket}"

  precondition {
    condition = (local.velero_location.config.storageAccount == local.names.storage_account
    && local.velero_location.config.resourceGroup == azurerm_resource_group.this.name)
    error_message = "charts/values/${local.environment}/velero.yaml must name this stack's storage account and resource group."
  }
  precondition {
    condition     = contains(keys(module.storage.container_ids), local.velero_location.bucket)
    error_message = "charts/values/${local.environment}/velero.yaml must name a container of the storage module."
  }
}
