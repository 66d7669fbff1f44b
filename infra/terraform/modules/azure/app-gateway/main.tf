resource "azurerm_web_application_firewall_policy" "this" {
  name                = var.waf_policy_name
  location            = var.location
  resource_group_name = var.resource_group_name

  policy_settings {
    enabled                     = true
    mode                        = "Prevention"
    request_body_check          = true
    file_upload_limit_in_mb     = 100
    max_request_body_size_in_kb = 128
  }

  managed_rules {
    managed_rule_set {
      type    = "OWASP"
      version = "3.2"
    }
    managed_rule_set {
      type    = "Microsoft_BotManagerRuleSet"
      version = "1.0"
    }
  }

  custom_rules {
    name      = "ratelimitperip"
    priority  = 10
    rule_type = "RateLimitRule"
    action    = "Block"

    rate_limit_duration  = "OneMin"
    rate_limit_threshold = var.rate_limit_per_minute
    group_rate_limit_by  = "ClientAddr"

    match_conditions {
      match_variables {
        variable_name = "RemoteAddr"
      }
      operator           = "IPMatch"
      negation_condition = true
      match_values       = ["255.255.255.255/32"]
    }
  }

  tags = var.tags
}

resource "azurerm_public_ip" "this" {
  name                = "pip-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = ["1", "2", "3"]
  domain_name_label   = var.name
  tags                = var.tags
}

locals {
  frontend = "public"
  backend  = "aks-ingress"
}

resource "azurerm_application_gateway" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  zones               = ["1", "2", "3"]
  enable_http2        = true
  firewall_policy_id  = azurerm_web_application_firewall_policy.this.id

  sku {
    name = "WAF_v2"
    tier = "WAF_v2"
  }

  autoscale_configuration {
    min_capacity = var.autoscale.min
    max_capacity = var.autoscale.max
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [var.identity_id]
  }

  gateway_ip_configuration {
    name      = "gateway"
    subnet_id = var.subnet_id
  }

  frontend_ip_configuration {
    name                 = local.frontend
    public_ip_address_id = azurerm_public_ip.this.id
  }

  frontend_port {
    name = "https"
    port = 443
  }

  frontend_port {
    name = "http"
    port = 80
  }

  ssl_policy {
    policy_type = "Predefined"
    policy_name = "AppGwSslPolicy20220101S"
  }

  ssl_certificate {
    name                = "public"
    key_vault_secret_id = var.certificate_secret_id
  }

  backend_address_pool {
    name         = local.backend
    ip_addresses = [var.backend_address]
  }

  # TLS ends here (the Key Vault certificate); inside the virtual network the gateway speaks plain
  # HTTP to the ingress controller's internal load balancer, which routes by the Host header it keeps
  probe {
    name                = "ingress"
    protocol            = "Http"
    host                = var.hostname
    path                = "/"
    interval            = 15
    timeout             = 10
    unhealthy_threshold = 3

    # any answer of nginx's, even the 404 of a path no Ingress routes, means the ingress is up
    match {
      status_code = ["200-404"]
    }
  }

  backend_http_settings {
    name                                = "ingress-http"
    protocol                            = "Http"
    port                                = var.backend_port
    cookie_based_affinity               = "Disabled"
    request_timeout                     = 60
    pick_host_name_from_backend_address = false
    probe_name                          = "ingress"
  }

  http_listener {
    name                           = "https"
    frontend_ip_configuration_name = local.frontend
    frontend_port_name             = "https"
    protocol                       = "Https"
    ssl_certificate_name           = "public"
  }

  http_listener {
    name                           = "http"
    frontend_ip_configuration_name = local.frontend
    frontend_port_name             = "http"
    protocol                       = "Http"
  }

  redirect_configuration {
    name                 = "to-https"
    redirect_type        = "Permanent"
    target_listener_name = "https"
    include_path         = true
    include_query_string = true
  }

  request_routing_rule {
    name                       = "https"
    rule_type                  = "Basic"
    priority                   = 100
    http_listener_name         = "https"
    backend_address_pool_name  = local.backend
    backend_http_settings_name = "ingress-http"
  }

  request_routing_rule {
    name                        = "http-redirect"
    rule_type                   = "Basic"
    priority                    = 200
    http_listener_name          = "http"
    redirect_configuration_name = "to-https"
  }

  tags = var.tags
}
