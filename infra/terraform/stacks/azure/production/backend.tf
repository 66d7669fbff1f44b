# Partial configuration: `invoke tf.plan` passes the state storage account,
# container and key from the registry (voiceops/terraform.py). Azure Storage
# locks the state with a blob lease.
terraform {
  backend "azurerm" {
    use_azuread_auth = true
  }
}
