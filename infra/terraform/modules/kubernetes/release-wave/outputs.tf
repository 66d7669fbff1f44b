output "revisions" {
  description = "Installed Helm revision per release of this wave."
  value       = { for name, release in helm_release.this : name => release.metadata.revision }
}
