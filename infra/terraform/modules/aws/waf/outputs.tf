output "arn" {
  description = "Web ACL ARN: the ALB gets it through the ingress annotation alb.ingress.kubernetes.io/wafv2-acl-arn."
  value       = aws_wafv2_web_acl.this.arn
}
