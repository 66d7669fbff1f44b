output "arn" {
  description = "Instance ARN (source of the cross-region replica)."
  value       = aws_db_instance.this.arn
}

output "address" {
  description = "Host name of the primary."
  value       = aws_db_instance.this.address
}

output "endpoint" {
  description = "host:port of the primary."
  value       = aws_db_instance.this.endpoint
}

output "master_secret_arn" {
  description = "Secrets Manager secret RDS manages for the admin user."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "monitoring_role_arn" {
  description = "Enhanced-monitoring role, reused by the cross-region replica."
  value       = aws_iam_role.monitoring.arn
}

output "security_group_id" {
  description = "Security group of the instance."
  value       = module.access.security_group_id
}
