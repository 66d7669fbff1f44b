output "public_ip_address" {
  description = "LiveKit's public address (livekit.<zone>)."
  value       = azurerm_public_ip.this.ip_address
}

output "backend_pool_id" {
  description = "Pool the livekit node pool's VM scale set joins."
  value       = azurerm_lb_backend_address_pool.livekit.id
}
