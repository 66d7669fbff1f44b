output "client_ids" {
  description = "Binding -> client id of its identity (what the service account annotation carries)."
  value       = { for name, identity in azurerm_user_assigned_identity.this : name => identity.client_id }
}

output "principal_ids" {
  description = "Binding -> object id of its identity."
  value       = { for name, identity in azurerm_user_assigned_identity.this : name => identity.principal_id }
}
