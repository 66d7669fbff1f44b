locals {
  role_assignments = merge([
    for name, binding in var.bindings : {
      for key, grant in binding.roles : "${name}/${key}" => { binding = name, role = grant.role, scope = grant.scope }
    }
  ]...)
}

resource "azurerm_user_assigned_identity" "this" {
  for_each = var.bindings

  name                = "id-${var.name_prefix}-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

# Entra ID accepts the cluster's token for exactly this service account in exactly this namespace.
resource "azurerm_federated_identity_credential" "this" {
  for_each = var.bindings

  name                = "${each.value.namespace}-${each.value.service_account}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.this[each.key].id
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${each.value.namespace}:${each.value.service_account}"
  audience            = ["api://AzureADTokenExchange"]
}

resource "azurerm_role_assignment" "this" {
  for_each = local.role_assignments

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.this[each.value.binding].principal_id
  # a new identity may not have replicated through Entra ID yet; the type spares the lookup
  principal_type = "ServicePrincipal"
}

# Client ids are generated when an identity is created, so no committed file can carry them.
# The charts render their service accounts (the gate checks what Argo CD applies) and the stack
# adds only the client-id annotation, under its own server-side-apply field manager: Argo CD's
# sync neither removes it nor reports it as drift. The workload identity webhook reads it when
# a pod is created, so a pod started before the annotation existed needs a restart.
resource "kubernetes_annotations" "client_id" {
  for_each = var.annotate_service_accounts ? var.bindings : {}

  api_version   = "v1"
  kind          = "ServiceAccount"
  field_manager = "voiceops-workload-identity"
  metadata {
    name      = each.value.service_account
    namespace = each.value.namespace
  }
  annotations = {
    "azure.workload.identity/client-id" = azurerm_user_assigned_identity.this[each.key].client_id
  }
}
