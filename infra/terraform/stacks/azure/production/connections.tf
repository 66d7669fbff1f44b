# What the releases dial and only this stack knows once applied (charts/connections.yaml). The
# environment is delivered by Argo CD, so the stack writes the facts into the cluster as
# annotations of Argo CD's cluster Secret for it; the cluster's bootstrap ApplicationSet
# (kustomize/argocd/) patches them into the consuming Applications.
locals {
  connection_facts = {
    redis-cluster-address  = "${module.redis.hostname}:6380" # the TLS port; the plain one is off
    temporal-postgres-host = module.postgresql.fqdn
    postgres-host          = module.postgresql.fqdn
    # the entry path: the Application Gateway's backend, and LiveKit's public address by name
    ingress-address         = local.ingress_address
    livekit-public-ip       = module.livekit_balancer.public_ip_name
    livekit-public-ip-group = azurerm_resource_group.this.name
    key-vault-url           = module.key_vault.uri
  }
}

# The API server is private and local accounts are off: Entra ID tokens from the Azure CLI
# session, on a runner inside the virtual network.
provider "kubernetes" {
  host                   = module.aks.api_server_host
  cluster_ca_certificate = base64decode(module.aks.cluster_ca_certificate)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "kubelogin"
    # the AKS Entra ID server application, the same in every tenant
    args = ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]
  }
}

module "argocd_connections" {
  source = "../../../modules/kubernetes/argocd-connections"

  argocd_namespace = module.context.namespaces.system
  connection_facts = local.connection_facts
}

# The API server is private (modules/azure/aks): delivery reaches it from self-hosted runners in
# the virtual network, and there is no public endpoint for the registry's sources to reach.
check "private_api_server_admits_no_public_sources" {
  assert {
    condition     = length(local.registry.cluster.api_access.allowed_cidrs) == 0
    error_message = "environments/${local.environment}.yaml: cluster.api_access.allowed_cidrs names public sources, but the AKS API server is private."
  }
}
