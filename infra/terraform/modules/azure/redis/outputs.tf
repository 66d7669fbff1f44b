output "hostname" {
  description = "Cache hostname (TLS 6380)."
  value       = azurerm_redis_cache.this.hostname
}

output "id" {
  description = "Cache id."
  value       = azurerm_redis_cache.this.id
}
