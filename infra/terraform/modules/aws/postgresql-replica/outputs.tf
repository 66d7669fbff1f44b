output "arn" {
  description = "Replica ARN."
  value       = aws_db_instance.this.arn
}

output "endpoint" {
  description = "host:port of the replica."
  value       = aws_db_instance.this.endpoint
}
