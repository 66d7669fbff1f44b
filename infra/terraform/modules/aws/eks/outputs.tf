output "name" {
  description = "Cluster name."
  value       = aws_eks_cluster.this.name
}

output "endpoint" {
  description = "API server endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "certificate_authority" {
  description = "Base64 cluster CA."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_security_group_id" {
  description = "Security group EKS attaches to the control plane and Auto Mode nodes; data stores admit it."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "workload_role_arns" {
  description = "Pod Identity role ARN per workload."
  value       = { for key, role in aws_iam_role.workload : key => role.arn }
}

output "node_role_name" {
  description = "IAM role of the Auto Mode nodes; a NodeClass of the platform's launches its nodes with it."
  value       = aws_iam_role.node.name
}
