output "arn" {
  description = "Cluster ARN (IAM policies of the producers and consumers name it)."
  value       = aws_msk_cluster.this.arn
}

output "bootstrap_brokers_iam" {
  description = "Bootstrap brokers for SASL/IAM over TLS."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}
