output "configuration_endpoint" {
  description = "Cluster-mode configuration endpoint (TLS, port 6379)."
  value       = aws_elasticache_replication_group.this.configuration_endpoint_address
}

output "auth_secret_arn" {
  description = "Secrets Manager secret holding the AUTH token (read by external-secrets)."
  value       = aws_secretsmanager_secret.auth.arn
}

output "security_group_id" {
  description = "Security group of the Redis nodes."
  value       = module.access.security_group_id
}
