locals {
  # production owns the shared LKE cluster (development and staging name it in cluster.shared_with).
  environment = "production"
  registry    = yamldecode(file("${path.root}/../../../../../environments/${local.environment}.yaml"))
}

provider "linode" {
  # Bucket lifecycle rules need object keys; the provider makes short-lived ones.
  obj_use_temp_keys = true
}
