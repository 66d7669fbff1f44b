resource "azurerm_public_ip" "this" {
  name                = "pip-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = ["1", "2", "3"]
  tags                = var.tags
}

resource "azurerm_lb" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "Standard"

  frontend_ip_configuration {
    name                 = "public"
    public_ip_address_id = azurerm_public_ip.this.id
  }

  tags = var.tags
}

resource "azurerm_lb_backend_address_pool" "livekit" {
  name            = "livekit-nodes"
  loadbalancer_id = azurerm_lb.this.id
}

resource "azurerm_lb_probe" "livekit" {
  name            = "livekit-rtc"
  loadbalancer_id = azurerm_lb.this.id
  protocol        = "Tcp"
  port            = 7881
}

resource "azurerm_lb_rule" "this" {
  for_each = var.ports

  name                           = each.key
  loadbalancer_id                = azurerm_lb.this.id
  protocol                       = each.value.protocol
  frontend_port                  = each.value.port
  backend_port                   = each.value.port
  frontend_ip_configuration_name = "public"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.livekit.id]
  probe_id                       = azurerm_lb_probe.livekit.id
  disable_outbound_snat          = true
}
