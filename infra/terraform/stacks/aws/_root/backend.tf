# Partial configuration: `invoke tf.plan` passes bucket, key and region from the
# registry (voiceops/terraform.py), so no environment fact is written here.
terraform {
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
