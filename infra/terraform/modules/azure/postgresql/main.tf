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

# The services', Temporal's and the exporter's logins have passwords, which `invoke secrets.rotate`
# sets as this administrator. One value, kept until password_version is raised, goes to the
# server and to the vault, so a failed or repeated apply, or a replaced server, cannot leave them
# apart (the state holds it, as it holds every password the stacks generate; the server's and
# the vault's arguments are write-only, so it is not kept twice).
resource "random_password" "administrator" {
  length  = 40
  special = false
  keepers = { version = var.administrator.password_version }
}

# When the current password was made: the vault entry's expiry counts from it
resource "terraform_data" "administrator_password_made" {
  input            = plantimestamp()
  triggers_replace = [var.administrator.password_version]

  lifecycle {
    ignore_changes = [input]
  }
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

  administrator_login               = var.administrator.login
  administrator_password_wo         = random_password.administrator.result
  administrator_password_wo_version = var.administrator.password_version

  high_availability {
    mode                      = "ZoneRedundant"
    standby_availability_zone = "2"
  }

  # Seed 004: Entra ID for people; passwords for the workloads' own logins (see above)
  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = true
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

# Where secrets.rotate reads the administrator, as it reads RDS's from Secrets Manager on AWS
resource "azurerm_key_vault_secret" "administrator" {
  name         = var.administrator.vault_entry
  key_vault_id = var.administrator.key_vault_id
  value_wo = jsonencode({
    username = var.administrator.login
    password = random_password.administrator.result
  })
  value_wo_version = var.administrator.password_version
  content_type     = "application/json"
  # a reminder in the vault, not a lock: the server keeps the password until the version changes
  expiration_date = timeadd(terraform_data.administrator_password_made.output, "${var.administrator.rotation_days * 24}h")
  tags            = var.tags
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
