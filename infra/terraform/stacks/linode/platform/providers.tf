locals {
  # production owns the shared LKE cluster (development and staging name it in cluster.shared_with).
  environment = "production"
  registry    = jsondecode(file("${path.root}/../../../../../environments/resolved/${local.environment}.json")).environment
}

provider "linode" {
  # Bucket lifecycle rules need object keys; the provider makes short-lived ones.
  obj_use_temp_keys = true
}
