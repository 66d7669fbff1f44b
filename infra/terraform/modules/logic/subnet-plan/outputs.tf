output "zonal_subnets" {
  description = "Per-zone subnets keyed \"<kind>-<zone letter>\": { kind, zone_index, cidr }."
  value       = local.zonal
}

output "regional_subnets" {
  description = "Subnet kinds not laid out per zone: kind -> CIDR."
  value       = local.regional
}

output "addresses" {
  description = "Addresses per subnet kind (all zones together), before the cloud's reserved ones."
  value       = local.usable_addresses
}
