output "id" {
  description = "Storage account id."
  value       = azurerm_storage_account.this.id
}

output "blob_endpoint" {
  description = "Primary blob endpoint."
  value       = azurerm_storage_account.this.primary_blob_endpoint
}
