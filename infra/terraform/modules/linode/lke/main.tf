resource "linode_lke_cluster" "this" {
  label       = var.label
  region      = var.region
  k8s_version = var.kubernetes_version
  tags        = var.tags

  control_plane {
    # Irreversible once on; the shared cluster carries production.
    high_availability  = true
    audit_logs_enabled = true

    acl {
      enabled = true
      addresses {
        ipv4 = var.control_plane_allowed_ipv4
      }
    }
  }

  dynamic "pool" {
    for_each = var.pools
    content {
      type        = pool.value.type
      count       = pool.value.count
      labels      = pool.value.labels
      tags        = var.tags
      firewall_id = var.firewall_id

      dynamic "autoscaler" {
        for_each = pool.value.autoscaler == null ? [] : [pool.value.autoscaler]
        content {
          min = autoscaler.value.min
          max = autoscaler.value.max
        }
      }

      dynamic "taint" {
        for_each = pool.value.taints
        content {
          key    = taint.value.key
          value  = taint.value.value
          effect = taint.value.effect
        }
      }
    }
  }

  lifecycle {
    # The autoscaler owns the node count between its bounds.
    ignore_changes = [pool[0].count]
  }
}
