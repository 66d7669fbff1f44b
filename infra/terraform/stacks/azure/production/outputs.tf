output "cluster_id" {
  description = "AKS cluster id."
  value       = module.aks.id
}

output "ingress_address" {
  description = "Address the ingress controller's internal load balancer must take (Application Gateway backend)."
  value       = local.ingress_address
}

output "postgresql" {
  description = "Primary and replica FQDNs."
  value       = { primary = module.postgresql.fqdn, replicas = module.postgresql.replica_fqdns }
}

output "redis_hostname" {
  description = "Redis hostname."
  value       = module.redis.hostname
}

output "registry" {
  description = "ACR login server."
  value       = module.registry.login_server
}

output "name_servers" {
  description = "Delegate the DNS zone to these."
  value       = azurerm_dns_zone.this.name_servers
}

output "global_fqdn" {
  description = "Traffic Manager name."
  value       = module.traffic_manager.fqdn
}
