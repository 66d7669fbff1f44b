# What the releases dial and only this stack knows once applied (charts/connections.yaml
# declares the facts and which chart values take them); every wave gets them as `set` values.
locals {
  connection_facts = {
    redis-cluster-address  = "${module.redis.configuration_endpoint}:6379"
    temporal-postgres-host = module.postgresql.address
    postgres-host          = module.postgresql.address
    # the ALB's listeners (charts/base IngressClassParams), for the registry's route hosts
    ingress-certificate-arn = module.ingress_certificate.arn
  }
}

# The cluster also runs GitOps environments (previews, on the sandbox cluster) whose Applications
# read the facts from Argo CD's cluster Secret.
module "argocd_connections" {
  source = "../../kubernetes/argocd-connections"
  count  = var.install_releases ? 1 : 0

  argocd_namespace = module.context.namespaces.system
  connection_facts = local.connection_facts
  depends_on       = [module.wave_operators] # the namespace and Argo CD
}
