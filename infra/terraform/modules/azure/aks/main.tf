data "azurerm_client_config" "current" {}

locals {
  system     = var.node_pools["system"]
  user_pools = { for name, pool in var.node_pools : name => pool if name != "system" }
  zones      = ["1", "2", "3"]
}

resource "azurerm_kubernetes_cluster" "this" {
  # checkov:skip=CKV_AZURE_226:seed 004 sizes OS disks at 128 GB, more than a Standard_D4s_v3 cache holds for an ephemeral disk
  # checkov:skip=CKV_AZURE_117:disks are encrypted at host with platform-managed keys (seed 004: Azure-managed keys); no customer key set
  name                              = var.name
  location                          = var.location
  resource_group_name               = var.resource_group_name
  dns_prefix                        = var.name
  kubernetes_version                = var.kubernetes_version
  sku_tier                          = "Standard"
  automatic_upgrade_channel         = "patch"
  node_os_upgrade_channel           = "NodeImage"
  private_cluster_enabled           = true
  local_account_disabled            = true
  role_based_access_control_enabled = true
  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  azure_policy_enabled              = true

  default_node_pool {
    name                         = "system"
    vm_size                      = local.system.vm_size
    auto_scaling_enabled         = local.system.auto_scaling_enabled
    min_count                    = local.system.min_count
    max_count                    = local.system.max_count
    node_count                   = local.system.node_count
    only_critical_addons_enabled = true
    node_labels                  = local.system.node_labels
    zones                        = local.zones
    vnet_subnet_id               = var.subnet_id
    os_disk_size_gb              = 128
    max_pods                     = 50
    host_encryption_enabled      = true
    temporary_name_for_rotation  = "systemtmp"

    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [var.identity_id]
  }

  azure_active_directory_role_based_access_control {
    tenant_id              = data.azurerm_client_config.current.tenant_id
    admin_group_object_ids = var.admin_group_object_ids
    azure_rbac_enabled     = true
  }

  network_profile {
    network_plugin    = "azure"
    network_policy    = "azure"
    load_balancer_sku = "standard"
    service_cidr      = var.service_cidr
    dns_service_ip    = cidrhost(var.service_cidr, 10)
  }

  # Seed 004's cluster-autoscaler settings.
  auto_scaler_profile {
    scale_down_delay_after_add       = "10m"
    scale_down_unneeded              = "10m"
    scale_down_utilization_threshold = "0.5"
  }

  key_management_service {
    key_vault_key_id         = var.etcd_key_id
    key_vault_network_access = "Private"
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  oms_agent {
    log_analytics_workspace_id      = var.log_analytics_workspace_id
    msi_auth_for_monitoring_enabled = true
  }

  microsoft_defender {
    log_analytics_workspace_id = var.log_analytics_workspace_id
  }

  tags = var.tags
}

resource "azurerm_kubernetes_cluster_node_pool" "this" {
  for_each = local.user_pools

  name                    = each.key
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.this.id
  mode                    = each.value.mode
  vm_size                 = each.value.vm_size
  auto_scaling_enabled    = each.value.auto_scaling_enabled
  min_count               = each.value.min_count
  max_count               = each.value.max_count
  node_count              = each.value.node_count
  node_taints             = each.value.node_taints
  node_labels             = each.value.node_labels
  node_public_ip_enabled  = each.value.public_ip
  zones                   = local.zones
  vnet_subnet_id          = var.subnet_id
  os_disk_size_gb         = 128
  max_pods                = 50
  host_encryption_enabled = true
  tags                    = var.tags

  upgrade_settings {
    max_surge = "33%"
  }
}
