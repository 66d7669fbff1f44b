output "public_ip_id" {
  description = "Public IP id (Traffic Manager endpoint target)."
  value       = azurerm_public_ip.this.id
}

output "public_ip_address" {
  description = "Public address (DNS records)."
  value       = azurerm_public_ip.this.ip_address
}
