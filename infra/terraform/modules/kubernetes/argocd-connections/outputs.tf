output "annotations" {
  description = "The facts as the bootstrap ApplicationSets read them."
  value       = kubernetes_secret_v1.this.metadata[0].annotations
}
