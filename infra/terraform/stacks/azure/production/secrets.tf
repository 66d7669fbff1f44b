# One Key Vault entry per bundle secret of the environment (secrets/bundles/, resolved), which
# External Secrets reads through its workload identity (workload-identity.tf). Key Vault has no
# secret without a value: each entry starts as the empty JSON object, which no ExternalSecret
# can use until the real value is written as a new version, and Terraform never looks at the
# value again. Expiry starts at the bundle's rotation period; each new version sets its own.
resource "azurerm_key_vault_secret" "bundle" {
  for_each = module.context.store_entries

  name            = each.key
  value           = "{}"
  key_vault_id    = module.key_vault.id
  content_type    = "application/json"
  expiration_date = timeadd(plantimestamp(), "${each.value.rotation_days * 24}h")
  tags            = merge(local.tags, { environment = each.value.environment, secret = each.value.name })

  lifecycle {
    ignore_changes = [value, expiration_date]
  }
}
