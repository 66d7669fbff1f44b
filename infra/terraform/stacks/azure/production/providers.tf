locals {
  environment = "azure-production"
  registry    = jsondecode(file("${path.root}/../../../../../environments/resolved/${local.environment}.json")).environment
}

provider "azurerm" {
  features {
    key_vault {
      # Purge protection is on; never purge on destroy.
      purge_soft_delete_on_destroy = false
    }
    resource_group {
      prevent_deletion_if_contains_resources = true
    }
  }
  storage_use_azuread = true
}
