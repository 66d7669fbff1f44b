output "cluster" {
  description = "EKS cluster name and endpoint."
  value       = { name = module.eks.name, endpoint = module.eks.endpoint }
}

output "data_stores" {
  description = "Endpoints of the managed data stores."
  value = {
    postgresql = module.postgresql.endpoint
    redis      = module.redis.configuration_endpoint
    kafka      = module.kafka.bootstrap_brokers_iam
    opensearch = module.opensearch.endpoint
  }
}

output "egress_bucket" {
  description = "Bucket for LiveKit egress recordings."
  value       = module.egress_bucket.id
}

output "alb_web_acl_arn" {
  description = "WAF ACL for the ingress ALB (alb.ingress.kubernetes.io/wafv2-acl-arn)."
  value       = module.alb_waf.arn
}

output "name_servers" {
  description = "Delegate the environment's DNS zone to these."
  value       = module.edge.name_servers
}

output "recovery" {
  description = "Recovery-region replica endpoint, or null without a recovery region."
  value       = try(module.postgresql_replica[0].endpoint, null)
}

output "release_revisions" {
  description = "Helm revision per installed release."
  value = merge(
    module.wave_operators.revisions, module.wave_cluster_objects.revisions, module.wave_cluster_services.revisions,
    module.wave_media.revisions, module.wave_applications.revisions,
  )
}

output "cluster_certificate_authority" {
  description = "Base64 CA of the cluster (Helm and Kubernetes providers)."
  value       = module.eks.certificate_authority
}
