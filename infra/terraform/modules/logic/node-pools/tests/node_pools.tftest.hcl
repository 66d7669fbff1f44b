run "seed_004_aks_pools" {
  variables {
    cloud = "azure"
    pools = jsondecode(file("../../../../../environments/resolved/azure-production.json")).environment.cluster.node_pools
  }

  assert {
    condition     = jsonencode(output.aks_pools["livekit"].node_taints) == jsonencode(["livekit=true:NoSchedule"]) && jsonencode(output.aks_pools["agents"].node_taints) == jsonencode(["agents=true:NoSchedule"])
    error_message = "the livekit and agents pools carry seed 004's taints"
  }
  assert {
    condition     = output.aks_pools["livekit"].public_ip && !output.aks_pools["api"].public_ip
    error_message = "only the livekit pool's nodes get public addresses"
  }
  assert {
    condition     = output.aks_pools["agents"].min_count == 4 && output.aks_pools["agents"].max_count == 20 && output.aks_pools["livekit"].vm_size == "Standard_D8s_v3"
    error_message = "agents scale 4-20, livekit runs on Standard_D8s_v3"
  }
  assert {
    condition     = output.aks_pools["system"].mode == "System" && output.aks_pools["api"].mode == "User" && length(output.aks_pools["api"].node_taints) == 0
    error_message = "system is the System pool, api an untainted User pool"
  }
  assert {
    condition     = output.capacity["agents"].max_vcpus == 80
    error_message = "20 Standard_D4s_v3 nodes hold 80 vCPUs"
  }
}

run "seed_002_lke_pools" {
  variables {
    cloud = "linode"
    pools = jsondecode(file("../../../../../environments/resolved/production.json")).environment.cluster.node_pools
  }

  assert {
    condition     = output.lke_pools[0].type == "g6-standard-8" && output.lke_pools[0].autoscaler == { min = 3, max = 10 }
    error_message = "the baseline pool is g6-standard-8 autoscaling 3 to 10"
  }
  assert {
    condition     = output.lke_pools[1].count == 2 && output.lke_pools[1].autoscaler == null && output.lke_pools[1].labels["voiceops/gpu"] == "true"
    error_message = "the GPU pool is two nodes scaled by hand, labelled for the GPU workloads"
  }
}

run "seed_003_eks_node_pools" {
  variables {
    cloud = "aws"
    pools = jsondecode(file("../../../../../environments/resolved/live.json")).environment.cluster.node_pools
  }

  assert {
    condition     = output.eks_node_pools["general"].spec.limits.cpu == "40" && output.eks_node_pools["compute"].spec.limits.cpu == "128"
    error_message = "Auto Mode limits: 10 x m5.xlarge = 40 vCPUs, 8 x c5.4xlarge = 128"
  }
  assert {
    condition     = output.eks_node_pools["general"].spec.template.spec.requirements[1].values == ["spot"] && output.eks_node_pools["compute"].spec.template.spec.requirements[1].values == ["on-demand"]
    error_message = "seed 003: general on spot, compute on demand"
  }
  assert {
    condition     = output.eks_node_pools["media"].spec.template.spec.nodeClassRef.name == "voiceops-public" && output.eks_node_pools["general"].spec.template.spec.nodeClassRef.name == "voiceops"
    error_message = "the media pool launches in the public subnets, the others in the private ones"
  }
}

run "rejects_an_unknown_size" {
  command = plan
  variables {
    cloud = "azure"
    pools = [{ name = "system", instance_type = "Standard_Z99", min_nodes = 2, max_nodes = 4, taints = [], autoscaling = true, gpu = false, spot = false, public = false }]
  }
  expect_failures = [var.pools]
}

run "rejects_aks_without_a_system_pool" {
  command = plan
  variables {
    cloud = "azure"
    pools = [{ name = "api", instance_type = "Standard_D4s_v3", min_nodes = 2, max_nodes = 10, taints = [], autoscaling = true, gpu = false, spot = false, public = false }]
  }
  expect_failures = [var.pools]
}

run "rejects_a_gpu_pool_without_gpus" {
  command = plan
  variables {
    cloud = "linode"
    pools = [{ name = "gpu", instance_type = "g6-standard-8", min_nodes = 2, max_nodes = 2, autoscaling = false, gpu = true, taints = [], spot = false, public = false }]
  }
  expect_failures = [var.pools]
}
