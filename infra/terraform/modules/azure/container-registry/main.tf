resource "azurerm_container_registry" "this" {
  # checkov:skip=CKV_AZURE_164:signed images (Notary v1 trust) are retired by Azure; signing moves to Notation in CI
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  sku                           = "Premium"
  admin_enabled                 = false
  public_network_access_enabled = false
  zone_redundancy_enabled       = true
  data_endpoint_enabled         = true
  retention_policy_in_days      = 7
  quarantine_policy_enabled     = true
  network_rule_bypass_option    = "AzureServices"

  dynamic "georeplications" {
    for_each = var.replica_locations
    content {
      location                = georeplications.value
      zone_redundancy_enabled = true
      tags                    = var.tags
    }
  }

  tags = var.tags
}

resource "azurerm_role_assignment" "pull" {
  for_each = var.pull_principal_ids

  scope                = azurerm_container_registry.this.id
  role_definition_name = "AcrPull"
  principal_id         = each.value
}

module "endpoint" {
  source = "../private-endpoint"

  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoint_subnet_id
  resource_id         = azurerm_container_registry.this.id
  subresource         = "registry"
  private_dns_zone_id = var.private_dns_zone_id
  tags                = var.tags
}
