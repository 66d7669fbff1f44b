run "reads_the_live_registry_entry" {
  variables {
    name = "live"
  }

  assert {
    condition     = output.regions.primary == "us-west-2" && output.regions.disaster_recovery == "us-east-1"
    error_message = "live runs in us-west-2 with us-east-1 for disaster recovery (seed 003)"
  }
  assert {
    condition     = output.network.cidr == "10.0.0.0/16" && output.network.availability_zones == 3
    error_message = "live's VPC is seed 003's 10.0.0.0/16 over three zones"
  }
  assert {
    condition     = output.cluster.node_pools[1].spot == false && output.cluster.node_pools[0].spot == true && length(output.cluster.node_pools[1].taints) == 0
    error_message = "registry defaults are filled in (spot, taints)"
  }
  assert {
    condition     = output.disaster_recovery.rpo_seconds == 900 && output.disaster_recovery.rto_seconds == 14400
    error_message = "seed 003 targets: RPO 15 minutes, RTO 4 hours"
  }
  assert {
    condition     = output.entry_hosts["api-rest"] == "api.live.voiceops.example" && length(output.entry_hosts) == 3
    error_message = "each public route's host lies under the environment's DNS zone"
  }
}

run "an_environment_without_routes_has_no_entry_hosts" {
  variables {
    name = "staging"
  }

  assert {
    condition     = length(output.entry_hosts) == 0
    error_message = "staging serves nothing publicly: no DNS records"
  }
}

run "store_entries_cover_the_environments_on_the_cluster" {
  variables {
    name = "sandbox"
  }

  assert {
    condition     = output.store_entries["voiceops/preview/api-rest-credentials"].environment == "preview" && output.store_entries["voiceops/sandbox/temporal-db"].rotation_days == 90
    error_message = "the sandbox stack creates its own entries and those of the previews its cluster hosts, rotated quarterly"
  }
}

run "sealed_environments_have_no_store_entries" {
  variables {
    name = "production"
  }

  assert {
    condition     = length(output.store_entries) == 0
    error_message = "Linode keeps its secrets sealed in git: no store entries"
  }
}

run "accepts_the_stack_the_registry_names" {
  variables {
    name      = "azure-production"
    stack_dir = "/anywhere/infra/terraform/stacks/azure/production"
  }

  assert {
    condition     = output.terraform.workload == "voiceassistant" && output.terraform.stage == "prod"
    error_message = "seed 004 names come from workload voiceassistant, stage prod"
  }
}

run "rejects_a_stack_wired_to_the_wrong_environment" {
  command = plan
  variables {
    name      = "sandbox"
    stack_dir = "/anywhere/infra/terraform/stacks/aws/live"
  }
  expect_failures = [var.stack_dir]
}

run "rejects_an_unknown_environment" {
  command = plan
  variables {
    name = "nosuch"
  }
  expect_failures = [var.name]
}

run "releases_come_resolved_per_wave" {
  variables {
    name = "sandbox"
  }

  assert {
    condition     = length(output.release_waves) == 6 && output.release_waves["-10"]["base"].chart == "../../../../../charts/base" && output.release_waves["-10"]["base"].dependency_update
    error_message = "every catalog wave is a key; our charts come as paths relative to the stack, built before install"
  }
}
