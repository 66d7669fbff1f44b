module "plan" {
  source = "../../logic/subnet-plan"

  cidr               = var.cidr
  availability_zones = 3
  subnets = {
    aks     = var.subnets.aks
    db      = var.subnets.db
    cache   = var.subnets.cache
    gateway = var.subnets.gateway
  }
}

locals {
  subnets = module.plan.regional_subnets
  # Inbound rules per subnet beyond Azure's defaults; the last rule of every NSG
  # denies the rest of the VNet, so subnets only talk where a rule says so.
  rules = {
    aks = [
      { name = "livekit-rtc-udp", priority = 100, protocol = "Udp", ports = "50000-60000", source = "Internet" },
      { name = "livekit-rtc-tcp", priority = 110, protocol = "Tcp", ports = "7881", source = "Internet" },
      { name = "livekit-turn", priority = 120, protocol = "Udp", ports = "3478", source = "Internet" },
      # SIP signalling and its RTP range, on the same host-networked nodes (seed 004's SIP trunk)
      { name = "sip-udp", priority = 160, protocol = "Udp", ports = "5060", source = "Internet" },
      { name = "sip-tcp", priority = 170, protocol = "Tcp", ports = "5060", source = "Internet" },
      { name = "sip-rtp", priority = 180, protocol = "Udp", ports = "10000-20000", source = "Internet" },
      # TURN over TLS through LiveKit's load balancer: the cluster's balancer keeps the frontend
      # address as destination (floating IP), so the rule names that address, not the subnet
      { name = "livekit-turn-tls", priority = 190, protocol = "Tcp", ports = "443", source = "Internet", frontend = "livekit" },
      { name = "from-gateway", priority = 130, protocol = "Tcp", ports = "80-443", source = local.subnets.gateway },
      { name = "within-cluster", priority = 140, protocol = "*", ports = "*", source = local.subnets.aks },
      { name = "azure-load-balancer", priority = 150, protocol = "*", ports = "*", source = "AzureLoadBalancer" },
    ]
    db = [
      { name = "postgresql-from-aks", priority = 100, protocol = "Tcp", ports = "5432", source = local.subnets.aks },
    ]
    cache = [
      { name = "redis-from-aks", priority = 100, protocol = "Tcp", ports = "6380", source = local.subnets.aks },
      { name = "redis-cluster-from-aks", priority = 110, protocol = "Tcp", ports = "13000-13999", source = local.subnets.aks },
      { name = "endpoints-from-aks", priority = 120, protocol = "Tcp", ports = "443", source = local.subnets.aks },
    ]
    gateway = [
      { name = "gateway-manager", priority = 100, protocol = "Tcp", ports = "65200-65535", source = "GatewayManager" },
      { name = "https", priority = 110, protocol = "Tcp", ports = "443", source = "Internet" },
      { name = "http-redirect", priority = 120, protocol = "Tcp", ports = "80", source = "Internet" },
      { name = "azure-load-balancer", priority = 130, protocol = "*", ports = "*", source = "AzureLoadBalancer" },
    ]
  }
}

resource "azurerm_virtual_network" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  address_space       = [var.cidr]
  tags                = var.tags
}

resource "azurerm_subnet" "this" {
  for_each = local.subnets

  name                              = "${each.key}-subnet"
  resource_group_name               = var.resource_group_name
  virtual_network_name              = azurerm_virtual_network.this.name
  address_prefixes                  = [each.value]
  private_endpoint_network_policies = each.key == "cache" ? "Enabled" : "Disabled"

  dynamic "delegation" {
    for_each = each.key == "db" ? [1] : []
    content {
      name = "postgresql-flexible-server"
      service_delegation {
        name    = "Microsoft.DBforPostgreSQL/flexibleServers"
        actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
      }
    }
  }
}

resource "azurerm_network_security_group" "this" {
  for_each = local.subnets

  name                = "nsg-${var.name}-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags

  dynamic "security_rule" {
    for_each = local.rules[each.key]
    content {
      name                       = security_rule.value.name
      priority                   = security_rule.value.priority
      direction                  = "Inbound"
      access                     = "Allow"
      protocol                   = security_rule.value.protocol
      source_port_range          = "*"
      destination_port_range     = security_rule.value.ports
      source_address_prefix      = security_rule.value.source
      destination_address_prefix = try(var.load_balancer_frontends[security_rule.value.frontend], each.value)
    }
  }

  security_rule {
    name                       = "deny-other-vnet-inbound"
    priority                   = 4000
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_port_range          = "*"
    destination_port_range     = "*"
    source_address_prefix      = "VirtualNetwork"
    destination_address_prefix = "*"
  }
}

resource "azurerm_subnet_network_security_group_association" "this" {
  for_each = local.subnets

  subnet_id                 = azurerm_subnet.this[each.key].id
  network_security_group_id = azurerm_network_security_group.this[each.key].id
}

resource "azurerm_private_dns_zone" "this" {
  for_each = var.private_dns_zones

  name                = each.value
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "this" {
  for_each = var.private_dns_zones

  name                  = "${var.name}-${each.key}"
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.this[each.key].name
  virtual_network_id    = azurerm_virtual_network.this.id
  registration_enabled  = false
  tags                  = var.tags
}
