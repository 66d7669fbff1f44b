output "aks_pools" {
  description = "AKS pools by name: vm_size, mode, autoscaling bounds, node_taints, node_labels."
  value       = local.aks_pools
}

output "lke_pools" {
  description = "LKE pools in registry order: type, count, autoscaler, taints (key/value/effect), labels."
  value       = local.lke_pools
}

output "eks_node_pools" {
  description = "EKS Auto Mode NodePool manifests by pool name."
  value       = local.eks_node_pools
}

output "capacity" {
  description = "Per pool: max vCPUs, memory (GiB) and GPUs when scaled out to max_nodes."
  value = {
    for name, pool in local.parsed : name => {
      max_vcpus      = pool.max_nodes * pool.size.vcpus
      max_memory_gib = pool.max_nodes * pool.size.memory_gib
      gpus           = pool.max_nodes * pool.size.gpus
    }
  }
}
