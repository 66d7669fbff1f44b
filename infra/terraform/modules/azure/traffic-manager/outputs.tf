output "fqdn" {
  description = "Global name clients resolve."
  value       = azurerm_traffic_manager_profile.this.fqdn
}
