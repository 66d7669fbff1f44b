output "id" {
  description = "NodeBalancer id, which the ingress controller's Service annotation names."
  value       = linode_node_balancer.this.id
}

output "ipv4" {
  description = "Public IPv4 address the DNS records point at."
  value       = linode_node_balancer.this.ipv4
}
