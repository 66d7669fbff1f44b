terraform {
  required_version = ">= 1.9"

  required_providers {
    linode = {
      source = "linode/linode"
      # 3.8.0 added pool.firewall_id.
      version = ">= 3.8"
    }
  }
}
