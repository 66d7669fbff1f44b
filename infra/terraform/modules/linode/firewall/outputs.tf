output "id" {
  description = "Firewall id (attached to every LKE pool)."
  value       = linode_firewall.this.id
}
