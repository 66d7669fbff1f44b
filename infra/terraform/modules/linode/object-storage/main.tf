resource "linode_object_storage_bucket" "this" {
  for_each = var.buckets

  label      = "${var.prefix}-${each.key}"
  region     = var.region
  acl        = "private"
  versioning = true

  lifecycle_rule {
    id      = "expiry"
    enabled = true

    dynamic "expiration" {
      for_each = each.value.expire_days == null ? [] : [each.value.expire_days]
      content {
        days = expiration.value
      }
    }

    noncurrent_version_expiration {
      days = each.value.noncurrent_days
    }
  }

  lifecycle {
    # The state bucket holds this stack's own state.
    prevent_destroy = true
  }
}

# One key per bucket, scoped to it: exports for the analytics service, backups for Velero and the database jobs.
resource "linode_object_storage_key" "this" {
  for_each = var.buckets

  label = "${var.prefix}-${each.key}"

  bucket_access {
    bucket_name = linode_object_storage_bucket.this[each.key].label
    region      = var.region
    permissions = "read_write"
  }
}
