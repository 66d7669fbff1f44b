resource "azurerm_redis_cache" "this" {
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  sku_name                      = "Premium"
  family                        = "P"
  capacity                      = var.capacity
  shard_count                   = var.shard_count
  redis_version                 = "6"
  zones                         = ["1", "2", "3"]
  minimum_tls_version           = "1.2"
  non_ssl_port_enabled          = false
  public_network_access_enabled = false

  identity {
    type = "SystemAssigned"
  }

  # Seed 004: RDB persistence with daily snapshots.
  redis_configuration {
    rdb_backup_enabled                     = true
    rdb_backup_frequency                   = 1440
    rdb_backup_max_snapshot_count          = 1
    rdb_storage_connection_string          = "BlobEndpoint=${var.persistence_storage.blob_endpoint}"
    data_persistence_authentication_method = "ManagedIdentity"
  }

  patch_schedule {
    day_of_week    = "Sunday"
    start_hour_utc = 4
  }

  tags = var.tags
}

resource "azurerm_role_assignment" "persistence" {
  scope                = var.persistence_storage.account_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_redis_cache.this.identity[0].principal_id
}

module "endpoint" {
  source = "../private-endpoint"

  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoint_subnet_id
  resource_id         = azurerm_redis_cache.this.id
  subresource         = "redisCache"
  private_dns_zone_id = var.private_dns_zone_id
  tags                = var.tags
}
