data "azurerm_client_config" "current" {}

# VNet-injected servers resolve through a zone named *.postgres.database.azure.com.
resource "azurerm_private_dns_zone" "this" {
  name                = "${var.name}.private.postgres.database.azure.com"
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "this" {
  name                  = var.name
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.this.name
  virtual_network_id    = var.vnet_id
  tags                  = var.tags
}

resource "azurerm_postgresql_flexible_server" "primary" {
  # checkov:skip=CKV2_AZURE_57:VNet injection (delegated db subnet, public access off) is the server's private access; a private endpoint is the alternative for public-mode servers
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  version                       = var.postgresql_version
  sku_name                      = var.sku_name
  storage_mb                    = var.storage_mb
  auto_grow_enabled             = true
  backup_retention_days         = var.backup_retention_days
  geo_redundant_backup_enabled  = true
  zone                          = "1"
  delegated_subnet_id           = var.delegated_subnet_id
  private_dns_zone_id           = azurerm_private_dns_zone.this.id
  public_network_access_enabled = false

  high_availability {
    mode                      = "ZoneRedundant"
    standby_availability_zone = "2"
  }

  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = false
    tenant_id                     = data.azurerm_client_config.current.tenant_id
  }

  maintenance_window {
    day_of_week  = 0
    start_hour   = 3
    start_minute = 0
  }

  tags       = var.tags
  depends_on = [azurerm_private_dns_zone_virtual_network_link.this]
}

resource "azurerm_postgresql_flexible_server_active_directory_administrator" "this" {
  server_name         = azurerm_postgresql_flexible_server.primary.name
  resource_group_name = var.resource_group_name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  object_id           = var.entra_admin.object_id
  principal_name      = var.entra_admin.name
  principal_type      = "Group"
}

resource "azurerm_postgresql_flexible_server_configuration" "this" {
  for_each = {
    require_secure_transport   = "on"
    ssl_min_protocol_version   = "TLSv1.2"
    log_connections            = "on"
    log_checkpoints            = "on"
    log_min_duration_statement = "1000"
  }

  server_id = azurerm_postgresql_flexible_server.primary.id
  name      = each.key
  value     = each.value
}

resource "azurerm_postgresql_flexible_server" "replica" {
  # checkov:skip=CKV2_AZURE_57:VNet-injected like the primary
  count = var.read_replicas

  name                          = "${var.name}-replica-${count.index + 1}"
  location                      = var.location
  resource_group_name           = var.resource_group_name
  create_mode                   = "Replica"
  source_server_id              = azurerm_postgresql_flexible_server.primary.id
  version                       = var.postgresql_version
  sku_name                      = var.sku_name
  storage_mb                    = var.storage_mb
  auto_grow_enabled             = true
  zone                          = tostring((count.index % 3) + 1)
  delegated_subnet_id           = var.delegated_subnet_id
  private_dns_zone_id           = azurerm_private_dns_zone.this.id
  public_network_access_enabled = false
  tags                          = var.tags

  depends_on = [azurerm_postgresql_flexible_server_configuration.this]
}
