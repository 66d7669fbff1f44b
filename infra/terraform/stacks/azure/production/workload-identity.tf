# The releases that reach Azure, each through its own identity federated to the service account
# its pods run as (the Azure counterpart of the AWS platform's workload_roles). Pods opt in with
# the label azure.workload.identity/use: "true" (charts/values/azure*), and the identity's client
# id reaches the service account as an annotation the stack writes (see the module).
module "workload_identity" {
  source = "../../../modules/azure/workload-identity"

  name_prefix               = module.context.prefix
  location                  = local.location
  resource_group_name       = azurerm_resource_group.this.name
  oidc_issuer_url           = module.aks.oidc_issuer_url
  annotate_service_accounts = var.annotate_service_accounts
  bindings = {
    external-secrets = {
      namespace       = module.context.namespaces.system
      service_account = "external-secrets"
      roles = {
        vault = { role = "Key Vault Secrets User", scope = module.key_vault.id }
      }
    }
    loki = {
      namespace       = module.context.namespaces.observability
      service_account = "loki"
      roles = {
        for purpose, container in local.loki_containers : purpose => {
          role  = "Storage Blob Data Contributor"
          scope = module.storage.container_ids[container]
        }
      }
    }
    velero = {
      namespace       = module.context.namespaces.system
      service_account = "velero"
      roles = {
        backups = { role = "Storage Blob Data Contributor", scope = module.storage.container_ids["backups"] }
      }
    }
    # Granted ahead of use: egress 1.9 signs Azure uploads with an account key, which this
    # account refuses, and its chart has no pod labels, so its pods do not take the identity yet.
    livekit-egress = {
      namespace       = module.context.namespaces.livekit
      service_account = "livekit-egress"
      roles = {
        recordings = { role = "Storage Blob Data Contributor", scope = module.storage.container_ids["recordings"] }
      }
    }
  }
  tags = local.tags
}

locals {
  # Loki's containers, named once in its values (purpose -> container)
  loki_containers = yamldecode(file("${path.root}/../../../../../charts/values/${local.environment}/loki.yaml")).loki.storage.bucketNames
}
