output "domain_id" {
  description = "Linode domain id."
  value       = linode_domain.this.id
}
