terraform {
  # Provider-free: `terraform test` runs it offline, without `terraform init`.
  required_version = ">= 1.9"
}
