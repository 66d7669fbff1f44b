resource "azurerm_storage_account" "this" {
  # checkov:skip=CKV2_AZURE_1:seed 004 specifies Microsoft-managed keys for Blob Storage encryption at rest
  # checkov:skip=CKV_AZURE_33:the account holds blob containers only; queue logging has no queues to log
  # checkov:skip=CKV2_AZURE_33:the blob private endpoint is module.endpoint below; the scanner's graph does not follow the id into that module
  # checkov:skip=CKV_AZURE_206:GRS is seed 004's replication choice (geo-redundant, not zone-redundant)
  name                              = var.name
  location                          = var.location
  resource_group_name               = var.resource_group_name
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "GRS"
  access_tier                       = "Hot"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  public_network_access_enabled     = false
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  infrastructure_encryption_enabled = true

  blob_properties {
    versioning_enabled  = true
    change_feed_enabled = true
    delete_retention_policy {
      days = var.soft_delete_days
    }
    container_delete_retention_policy {
      days = var.soft_delete_days
    }
  }

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }

  sas_policy {
    expiration_period = "01.00:00:00"
  }

  tags = var.tags
}

resource "azurerm_storage_container" "this" {
  # checkov:skip=CKV2_AZURE_21:blob read logging goes through the account's diagnostic setting to Log Analytics
  for_each = setunion(var.containers, var.release_containers)

  name                  = each.key
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_storage_management_policy" "this" {
  storage_account_id = azurerm_storage_account.this.id

  rule {
    name    = "cool-archive-delete"
    enabled = true
    filters {
      blob_types = ["blockBlob"]
    }
    actions {
      base_blob {
        tier_to_cool_after_days_since_modification_greater_than    = var.lifecycle_days.cool
        tier_to_archive_after_days_since_modification_greater_than = var.lifecycle_days.archive
        delete_after_days_since_modification_greater_than          = var.lifecycle_days.delete
      }
      version {
        delete_after_days_since_creation = var.lifecycle_days.cool
      }
    }
  }
}

module "endpoint" {
  source = "../private-endpoint"

  name                = "pe-${var.name}-blob"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoint_subnet_id
  resource_id         = azurerm_storage_account.this.id
  subresource         = "blob"
  private_dns_zone_id = var.private_dns_zone_id
  tags                = var.tags
}
