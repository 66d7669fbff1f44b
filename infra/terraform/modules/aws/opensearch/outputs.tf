output "endpoint" {
  description = "HTTPS endpoint of the domain (inside the VPC)."
  value       = aws_opensearch_domain.this.endpoint
}

output "arn" {
  description = "Domain ARN."
  value       = aws_opensearch_domain.this.arn
}
