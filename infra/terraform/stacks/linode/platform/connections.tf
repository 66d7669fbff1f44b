# What the releases dial and only this stack knows once applied (charts/connections.yaml). The
# environments of this cluster are delivered by Argo CD, so the stack writes the facts into the
# cluster as annotations of Argo CD's cluster Secret for it; the cluster's bootstrap
# ApplicationSet (kustomize/argocd/) patches them into the consuming Applications. Redis runs in
# the cluster here (Linode's managed databases offer none), so only PostgreSQL is a fact.
locals {
  connection_facts = {
    temporal-postgres-host  = module.databases.hosts["temporal"]
    users-postgres-host     = module.databases.hosts["users"]
    analytics-postgres-host = module.databases.hosts["analytics"]
    # the NodeBalancer the ingress controller's Service adopts
    ingress-nodebalancer-id = tostring(module.ingress.id)
  }
  kubeconfig = yamldecode(base64decode(module.lke.kubeconfig))
}

provider "kubernetes" {
  host                   = local.kubeconfig.clusters[0].cluster.server
  cluster_ca_certificate = base64decode(local.kubeconfig.clusters[0].cluster["certificate-authority-data"])
  token                  = local.kubeconfig.users[0].user.token
}

module "argocd_connections" {
  source = "../../../modules/kubernetes/argocd-connections"

  argocd_namespace = module.context.namespaces.system
  connection_facts = local.connection_facts
}
