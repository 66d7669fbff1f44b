# Seed 004: the voice assistant on AKS in East US.
module "context" {
  source = "../../../modules/logic/stack-context"

  environment = local.environment
  stack_dir   = abspath(path.root)
}

locals {
  names    = module.context.names
  tags     = module.context.tags
  location = module.context.regions.primary
  zone     = module.context.terraform.dns_zone
  # The ingress controller's internal load balancer takes a fixed address near the top of the AKS subnet.
  ingress_address = cidrhost(module.context.network.subnets.aks[0], -6)
  # the gateway's and Traffic Manager's health checks ask for the first public route
  monitor_host = values(module.context.entry_hosts)[0]
  # names under the zone the Application Gateway answers: every public route, and * (seed 004)
  gateway_records = concat([for host in values(module.context.entry_hosts) : trimsuffix(host, ".${local.zone}")], ["*"])
}

resource "azurerm_resource_group" "this" {
  name     = local.names.resource_group
  location = local.location
  tags     = local.tags
}

module "network" {
  source = "../../../modules/azure/network"

  name                = local.names.virtual_network
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  cidr                = module.context.network.cidr
  subnets = {
    aks     = module.context.network.subnets.aks
    db      = module.context.network.subnets.db
    cache   = module.context.network.subnets.cache
    gateway = module.context.network.subnets.gateway
  }
  load_balancer_frontends = { livekit = module.livekit_balancer.public_ip_address }
  tags                    = local.tags
}

module "monitoring" {
  source = "../../../modules/azure/monitoring"

  workspace_name      = local.names.log_analytics
  insights_name       = local.names.application_insights
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

# Identities exist before the cluster and the gateway, so their vault and subnet
# roles are in place when those are created.
resource "azurerm_user_assigned_identity" "this" {
  for_each = toset(["cluster", "gateway"])

  name                = "id-${module.context.prefix}-${each.key}"
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_role_assignment" "vault" {
  for_each = {
    cluster = "Key Vault Crypto User"  # etcd encryption key
    gateway = "Key Vault Secrets User" # TLS certificate
  }

  scope                = module.key_vault.id
  role_definition_name = each.value
  principal_id         = azurerm_user_assigned_identity.this[each.key].principal_id
}

resource "azurerm_role_assignment" "secrets_provider" {
  scope                = module.key_vault.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = module.aks.secrets_provider_object_id
}

module "key_vault" {
  source = "../../../modules/azure/key-vault"

  name                = local.names.key_vault
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  endpoint_subnet_id  = module.network.subnet_ids.cache
  private_dns_zone_id = module.network.private_dns_zone_ids.vault
  tags                = local.tags
}

resource "azurerm_role_assignment" "cluster_network" {
  scope                = module.network.subnet_ids.aks
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_user_assigned_identity.this["cluster"].principal_id
}

module "aks" {
  source = "../../../modules/azure/aks"

  name                       = module.context.cluster.name
  location                   = local.location
  resource_group_name        = azurerm_resource_group.this.name
  kubernetes_version         = module.context.cluster.kubernetes_version
  node_pools                 = module.context.aks_pools
  subnet_id                  = module.network.subnet_ids.aks
  admin_group_object_ids     = [var.admin_group.object_id]
  log_analytics_workspace_id = module.monitoring.workspace_id
  identity_id                = azurerm_user_assigned_identity.this["cluster"].id
  etcd_key_id                = module.key_vault.etcd_key_id
  tags                       = local.tags

  depends_on = [azurerm_role_assignment.cluster_network, azurerm_role_assignment.vault]
}

resource "azurerm_monitor_diagnostic_setting" "aks_audit" {
  name                           = "audit-to-log-analytics"
  target_resource_id             = module.aks.id
  log_analytics_workspace_id     = module.monitoring.workspace_id
  log_analytics_destination_type = "Dedicated"

  enabled_log {
    category = "kube-audit"
  }
  enabled_log {
    category = "kube-audit-admin"
  }
  enabled_log {
    category = "guard"
  }
}

module "postgresql" {
  source = "../../../modules/azure/postgresql"

  name                = local.names.postgresql
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  delegated_subnet_id = module.network.subnet_ids.db
  vnet_id             = module.network.vnet_id
  entra_admin         = var.admin_group
  administrator = {
    login        = "voiceops_admin"
    key_vault_id = module.key_vault.id
    vault_entry  = "${local.environment}--postgres-administrator"
  }
  tags = local.tags
}

module "storage" {
  source = "../../../modules/azure/storage"

  name                = local.names.storage_account
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  endpoint_subnet_id  = module.network.subnet_ids.cache
  private_dns_zone_id = module.network.private_dns_zone_ids.blob
  release_containers  = values(local.loki_containers)
  tags                = local.tags
}

module "redis" {
  source = "../../../modules/azure/redis"

  name                = local.names.redis
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  persistence_storage = { blob_endpoint = module.storage.blob_endpoint, account_id = module.storage.id }
  endpoint_subnet_id  = module.network.subnet_ids.cache
  private_dns_zone_id = module.network.private_dns_zone_ids.redis
  tags                = local.tags
}

module "registry" {
  source = "../../../modules/azure/container-registry"

  name                = local.names.container_registry
  location            = local.location
  resource_group_name = azurerm_resource_group.this.name
  replica_locations   = [module.context.regions.secondary[0]]
  pull_principal_ids  = { aks-kubelet = module.aks.kubelet_object_id }
  endpoint_subnet_id  = module.network.subnet_ids.cache
  private_dns_zone_id = module.network.private_dns_zone_ids.registry
  tags                = local.tags
}

resource "azurerm_key_vault_certificate" "public" {
  name         = "wildcard-${replace(local.zone, ".", "-")}"
  key_vault_id = module.key_vault.id

  certificate_policy {
    issuer_parameters {
      name = var.certificate_issuer
    }
    key_properties {
      exportable = true
      key_type   = "RSA"
      key_size   = 2048
      reuse_key  = false
    }
    secret_properties {
      content_type = "application/x-pkcs12"
    }
    lifetime_action {
      action {
        action_type = "AutoRenew"
      }
      trigger {
        days_before_expiry = 30
      }
    }
    x509_certificate_properties {
      subject            = "CN=*.${local.zone}"
      validity_in_months = 12
      key_usage          = ["digitalSignature", "keyEncipherment"]
      subject_alternative_names {
        dns_names = ["*.${local.zone}", local.zone]
      }
    }
  }
}

module "app_gateway" {
  source = "../../../modules/azure/app-gateway"

  name                  = local.names.application_gateway
  waf_policy_name       = local.names.waf_policy
  location              = local.location
  resource_group_name   = azurerm_resource_group.this.name
  subnet_id             = module.network.subnet_ids.gateway
  backend_address       = local.ingress_address
  identity_id           = azurerm_user_assigned_identity.this["gateway"].id
  certificate_secret_id = azurerm_key_vault_certificate.public.versionless_secret_id
  hostname              = local.monitor_host
  tags                  = local.tags

  depends_on = [azurerm_role_assignment.vault]
}

module "livekit_balancer" {
  source = "../../../modules/azure/livekit-balancer"

  name                 = local.names.livekit_balancer
  location             = local.location
  resource_group_name  = azurerm_resource_group.this.name
  cluster_principal_id = azurerm_user_assigned_identity.this["cluster"].principal_id
  tags                 = local.tags
}

module "traffic_manager" {
  source = "../../../modules/azure/traffic-manager"

  name                = local.names.traffic_manager
  resource_group_name = azurerm_resource_group.this.name
  primary_target_id   = module.app_gateway.public_ip_id
  monitor_host        = local.monitor_host
  secondary_regions   = { for region, fqdn in var.secondary_gateways : region => fqdn if contains(module.context.regions.secondary, region) }
  tags                = local.tags
}

resource "azurerm_dns_zone" "this" {
  name                = local.zone
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

# Seed 004: the public routes and * go to the Application Gateway, livekit to LiveKit's balancer.
resource "azurerm_dns_a_record" "this" {
  for_each = merge(
    { for name in local.gateway_records : name => module.app_gateway.public_ip_address },
    { livekit = module.livekit_balancer.public_ip_address },
  )

  name                = each.key
  zone_name           = azurerm_dns_zone.this.name
  resource_group_name = azurerm_resource_group.this.name
  ttl                 = 300
  records             = [each.value]
  tags                = local.tags
}
