output "repository_urls" {
  description = "Repository URL per image."
  value       = { for name, repository in aws_ecr_repository.this : name => repository.repository_url }
}
