output "id" {
  description = "Vault id, once the deploying identity may write into it."
  value       = azurerm_key_vault.this.id
  depends_on  = [azurerm_role_assignment.deployer]
}

output "uri" {
  description = "Vault URI (the CSI secrets provider and external-secrets read it)."
  value       = azurerm_key_vault.this.vault_uri
}

output "etcd_key_id" {
  description = "Versioned id of the etcd encryption key."
  value       = azurerm_key_vault_key.etcd.id
}
