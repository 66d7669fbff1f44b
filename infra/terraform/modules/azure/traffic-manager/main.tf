resource "azurerm_traffic_manager_profile" "this" {
  name                   = var.name
  resource_group_name    = var.resource_group_name
  traffic_routing_method = "Performance"

  dns_config {
    relative_name = var.name
    ttl           = 60
  }

  monitor_config {
    protocol                     = "HTTPS"
    port                         = 443
    path                         = "/"
    interval_in_seconds          = 30
    timeout_in_seconds           = 10
    tolerated_number_of_failures = 3
    expected_status_code_ranges  = ["200-404"] # any answer of the ingress behind the gateway

    custom_header {
      name  = "host"
      value = var.monitor_host
    }
  }

  tags = var.tags
}

resource "azurerm_traffic_manager_azure_endpoint" "primary" {
  name               = "primary"
  profile_id         = azurerm_traffic_manager_profile.this.id
  target_resource_id = var.primary_target_id
  weight             = 100
}

resource "azurerm_traffic_manager_external_endpoint" "secondary" {
  for_each = var.secondary_regions

  name              = each.key
  profile_id        = azurerm_traffic_manager_profile.this.id
  target            = each.value
  endpoint_location = each.key
  weight            = 100
}
