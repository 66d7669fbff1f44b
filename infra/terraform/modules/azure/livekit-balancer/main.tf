# Seed 004's LiveKit load balancer. Its backend must follow the autoscaled livekit node pool,
# which only the cluster's own Standard Load Balancer does (AKS's cloud provider keeps its pool in
# step with the nodes): the stack owns the static public address, and LiveKit's TURN Service
# takes it by name (annotation azure-pip-name, connection fact livekit-public-ip), so the
# cluster's balancer carries the rules for exactly the ports that Service exposes.
resource "azurerm_public_ip" "this" {
  name                = "pip-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = ["1", "2", "3"]
  tags                = var.tags
}

# The cloud provider needs to read and join the address it did not create
resource "azurerm_role_assignment" "cluster" {
  scope                = azurerm_public_ip.this.id
  role_definition_name = "Network Contributor"
  principal_id         = var.cluster_principal_id
}
