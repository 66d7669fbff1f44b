# Linode Object Storage speaks S3: `invoke tf.plan` passes the bucket, key, region
# and endpoint from the registry (voiceops/terraform.py).
terraform {
  backend "s3" {
    skip_credentials_validation = true
    skip_region_validation      = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_s3_checksum            = true
    use_path_style              = false
    use_lockfile                = true
  }
}
