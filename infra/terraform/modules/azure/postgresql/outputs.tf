output "fqdn" {
  description = "Primary server FQDN (private)."
  value       = azurerm_postgresql_flexible_server.primary.fqdn
}

output "replica_fqdns" {
  description = "Read replica FQDNs."
  value       = azurerm_postgresql_flexible_server.replica[*].fqdn
}

output "id" {
  description = "Primary server id."
  value       = azurerm_postgresql_flexible_server.primary.id
}
