output "arns" {
  description = "Secret ARN per name."
  value       = { for name, secret in aws_secretsmanager_secret.this : name => secret.arn }
}
