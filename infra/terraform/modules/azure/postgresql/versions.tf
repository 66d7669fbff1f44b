terraform {
  required_version = ">= 1.11" # write-only arguments

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.42"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6"
    }
  }
}
