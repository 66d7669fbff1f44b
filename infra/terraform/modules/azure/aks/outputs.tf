output "id" {
  description = "Cluster id."
  value       = azurerm_kubernetes_cluster.this.id
}

output "kubelet_object_id" {
  description = "Object id of the kubelet identity (AcrPull)."
  value       = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
}

output "secrets_provider_object_id" {
  description = "Object id of the Key Vault secrets provider identity."
  value       = azurerm_kubernetes_cluster.this.key_vault_secrets_provider[0].secret_identity[0].object_id
}

output "oidc_issuer_url" {
  description = "OIDC issuer for workload identity federation."
  value       = azurerm_kubernetes_cluster.this.oidc_issuer_url
}

output "node_resource_group" {
  description = "Resource group AKS manages for the nodes."
  value       = azurerm_kubernetes_cluster.this.node_resource_group
}

output "api_server_host" {
  description = "API server URL (private: reached from inside the virtual network)."
  value       = azurerm_kubernetes_cluster.this.kube_config[0].host
}

output "cluster_ca_certificate" {
  description = "Base64 CA certificate of the API server."
  value       = azurerm_kubernetes_cluster.this.kube_config[0].cluster_ca_certificate
  sensitive   = true
}
