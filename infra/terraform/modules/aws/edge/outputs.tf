output "zone_id" {
  description = "Route 53 zone id."
  value       = aws_route53_zone.this.zone_id
}

output "name_servers" {
  description = "Name servers to delegate the zone to."
  value       = aws_route53_zone.this.name_servers
}

output "distribution_domain_name" {
  description = "CloudFront domain, or null before the ALB exists."
  value       = try(aws_cloudfront_distribution.this[0].domain_name, null)
}
