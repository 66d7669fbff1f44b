output "security_group_id" {
  description = "The group to attach to the data store."
  value       = aws_security_group.this.id
}
