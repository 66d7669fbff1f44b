run "azure_production_from_the_registry" {
  variables {
    environment = "azure-production"
  }

  assert {
    condition     = output.names.kubernetes_cluster == "aks-voiceassistant-prod" && output.names.key_vault == "kv-voiceassistant-prod"
    error_message = "seed 004 names come out of the registry's workload and stage"
  }
  assert {
    condition     = output.aks_pools["livekit"].max_count == 10 && output.network.subnets.gateway[0] == "10.0.18.0/27"
    error_message = "pools and subnets come from environments/azure-production.yaml"
  }
}

run "linode_production_owns_the_shared_cluster" {
  variables {
    environment = "production"
  }

  assert {
    condition     = output.cluster.name == "lke-voiceops" && length(output.lke_pools) == 2 && contains(output.tag_list, "environment:production")
    error_message = "the LKE stack builds lke-voiceops with its two pools"
  }
}

run "rejects_an_environment_without_a_stack" {
  command = plan
  variables {
    environment = "local"
  }
  expect_failures = [var.environment]
}
