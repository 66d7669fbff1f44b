output "public_ip_id" {
  description = "Public IP id (Traffic Manager endpoint target)."
  value       = azurerm_public_ip.this.id
}

output "public_ip_address" {
  description = "Public address (DNS records)."
  value       = azurerm_public_ip.this.ip_address
}

output "identity_principal_id" {
  description = "Principal reading the TLS certificate from Key Vault."
  value       = azurerm_user_assigned_identity.this.principal_id
}
