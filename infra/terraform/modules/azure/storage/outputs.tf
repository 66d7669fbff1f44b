output "id" {
  description = "Storage account id."
  value       = azurerm_storage_account.this.id
}

output "blob_endpoint" {
  description = "Primary blob endpoint."
  value       = azurerm_storage_account.this.primary_blob_endpoint
}

output "container_ids" {
  description = "Container name -> its Resource Manager id, the scope of a role on that container alone."
  value       = { for name, container in azurerm_storage_container.this : name => "${azurerm_storage_account.this.id}/blobServices/default/containers/${container.name}" }
}
