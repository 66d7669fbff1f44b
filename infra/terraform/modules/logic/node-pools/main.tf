locals {
  sizes = var.sizes[var.cloud]

  parsed = {
    for pool in var.pools : pool.name => merge(pool, {
      size = lookup(local.sizes, pool.instance_type, null)
      taint_objects = [
        for taint in pool.taints : {
          key    = split("=", taint)[0]
          value  = split(":", split("=", taint)[1])[0]
          effect = split(":", taint)[1]
        }
      ]
      # Charts select pools by this label rather than by instance type.
      labels = merge({ "voiceops/pool" = pool.name }, pool.gpu ? { "voiceops/gpu" = "true" } : {})
    })
  }

  # AKS wants the taint strings as written; the pool named "system" is the default pool.
  aks_pools = {
    for name, pool in local.parsed : name => {
      vm_size              = pool.instance_type
      mode                 = name == "system" ? "System" : "User"
      auto_scaling_enabled = pool.autoscaling
      min_count            = pool.autoscaling ? pool.min_nodes : null
      max_count            = pool.autoscaling ? pool.max_nodes : null
      node_count           = pool.min_nodes
      node_taints          = pool.taints
      node_labels          = pool.labels
      public_ip            = pool.public
    }
  }

  # LKE: ordered list (the provider rewrites pools in place when the order changes).
  lke_pools = [
    for pool in var.pools : {
      type       = pool.instance_type
      count      = pool.min_nodes
      autoscaler = pool.autoscaling ? { min = pool.min_nodes, max = pool.max_nodes } : null
      taints     = local.parsed[pool.name].taint_objects
      labels     = local.parsed[pool.name].labels
    }
  ]

  # EKS Auto Mode: one Karpenter NodePool per registry pool, capped at max_nodes worth of vCPUs.
  eks_node_pools = {
    for name, pool in local.parsed : name => {
      apiVersion = "karpenter.sh/v1"
      kind       = "NodePool"
      metadata   = { name = name }
      spec = {
        template = {
          metadata = { labels = pool.labels }
          spec = {
            nodeClassRef = { group = "eks.amazonaws.com", kind = "NodeClass", name = pool.public ? var.eks_public_node_class : var.eks_node_class }
            taints       = pool.taint_objects
            requirements = [
              { key = "node.kubernetes.io/instance-type", operator = "In", values = [pool.instance_type] },
              { key = "karpenter.sh/capacity-type", operator = "In", values = [pool.spot ? "spot" : "on-demand"] },
            ]
          }
        }
        limits     = { cpu = tostring(pool.max_nodes * try(pool.size.vcpus, 0)) }
        disruption = { consolidationPolicy = "WhenEmptyOrUnderutilized", consolidateAfter = "10m" }
      }
    }
  }
}
