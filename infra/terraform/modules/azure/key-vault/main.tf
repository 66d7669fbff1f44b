data "azurerm_client_config" "current" {}

resource "azurerm_key_vault" "this" {
  # checkov:skip=CKV2_AZURE_32:the vault's private endpoint is module.endpoint below; the scanner's graph does not follow the id into that module
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  soft_delete_retention_days    = var.soft_delete_retention_days
  purge_protection_enabled      = true
  rbac_authorization_enabled    = true
  public_network_access_enabled = false

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
  }

  tags = var.tags
}

# The identity applying the stack writes the etcd key and the secrets' entries: an RBAC vault
# gives no data-plane rights to a subscription's owner, so it gets the two officer roles here.
resource "azurerm_role_assignment" "deployer" {
  for_each = toset(["Key Vault Crypto Officer", "Key Vault Secrets Officer"])

  scope                = azurerm_key_vault.this.id
  role_definition_name = each.key
  principal_id         = data.azurerm_client_config.current.object_id
}

# Encrypts etcd (AKS KMS). Rotated yearly by the vault; AKS follows the new version.
resource "azurerm_key_vault_key" "etcd" {
  # checkov:skip=CKV_AZURE_112:seed 004 specifies the Standard vault SKU, which has no HSM-backed keys
  name            = "aks-etcd"
  key_vault_id    = azurerm_key_vault.this.id
  key_type        = "RSA"
  key_size        = 2048
  key_opts        = ["encrypt", "decrypt", "wrapKey", "unwrapKey"]
  expiration_date = timeadd(plantimestamp(), "17520h")

  rotation_policy {
    expire_after         = "P2Y"
    notify_before_expiry = "P30D"
    automatic {
      time_before_expiry = "P30D"
    }
  }

  lifecycle {
    ignore_changes = [expiration_date]
  }

  depends_on = [azurerm_role_assignment.deployer]
}

module "endpoint" {
  source = "../private-endpoint"

  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoint_subnet_id
  resource_id         = azurerm_key_vault.this.id
  subresource         = "vault"
  private_dns_zone_id = var.private_dns_zone_id
  tags                = var.tags
}
