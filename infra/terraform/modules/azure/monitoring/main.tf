resource "azurerm_log_analytics_workspace" "this" {
  name                = var.workspace_name
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = var.retention_days
  tags                = var.tags
}

resource "azurerm_log_analytics_workspace_table" "audit" {
  for_each = var.audit_tables

  workspace_id            = azurerm_log_analytics_workspace.this.id
  name                    = each.key
  retention_in_days       = var.audit_retention_days
  total_retention_in_days = var.audit_retention_days
}

resource "azurerm_application_insights" "this" {
  name                          = var.insights_name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  workspace_id                  = azurerm_log_analytics_workspace.this.id
  application_type              = "web"
  local_authentication_disabled = true
  tags                          = var.tags
}
