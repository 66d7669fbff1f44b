output "id" {
  description = "Cluster id."
  value       = linode_lke_cluster.this.id
}

output "kubeconfig" {
  description = "Base64 kubeconfig."
  value       = linode_lke_cluster.this.kubeconfig
  sensitive   = true
}

output "api_endpoints" {
  description = "API server endpoints."
  value       = linode_lke_cluster.this.api_endpoints
}

output "node_instance_ids" {
  description = "Linode instance ids of the nodes at apply time (database allow lists)."
  value       = flatten([for pool in linode_lke_cluster.this.pool : [for node in pool.nodes : node.instance_id]])
}
