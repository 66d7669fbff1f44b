output "public_ip_address" {
  description = "LiveKit's public address (livekit.<zone>)."
  value       = azurerm_public_ip.this.ip_address
}

output "public_ip_name" {
  description = "Name of the address, which LiveKit's TURN Service asks the cluster's load balancer for."
  value       = azurerm_public_ip.this.name
}
