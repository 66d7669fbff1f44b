output "vpc_id" {
  description = "VPC id."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "VPC address space."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnet ids in zone order."
  value       = [for key in sort(keys(local.public)) : aws_subnet.public[key].id]
}

output "private_subnet_ids" {
  description = "Private subnet ids in zone order (cluster, databases, caches)."
  value       = [for key in sort(keys(local.private)) : aws_subnet.private[key].id]
}

output "nat_gateway_count" {
  description = "NAT gateways: one per zone."
  value       = length(aws_nat_gateway.this)
}
