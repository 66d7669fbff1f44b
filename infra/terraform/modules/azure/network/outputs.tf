output "vnet_id" {
  description = "VNet id."
  value       = azurerm_virtual_network.this.id
}

output "subnet_ids" {
  description = "Subnet id by kind (aks, db, cache, gateway)."
  value       = { for kind, subnet in azurerm_subnet.this : kind => subnet.id }
}

output "subnet_cidrs" {
  description = "Subnet CIDR by kind."
  value       = local.subnets
}

output "private_dns_zone_ids" {
  description = "privatelink zone id by purpose."
  value       = { for key, zone in azurerm_private_dns_zone.this : key => zone.id }
}
