output "id" {
  description = "Vault id."
  value       = azurerm_key_vault.this.id
}

output "uri" {
  description = "Vault URI (the CSI secrets provider and external-secrets read it)."
  value       = azurerm_key_vault.this.vault_uri
}

output "etcd_key_id" {
  description = "Versioned id of the etcd encryption key."
  value       = azurerm_key_vault_key.etcd.id
}
