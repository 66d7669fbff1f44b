# Seed 003's AWS layout, seed 004's Azure layout as the registry keeps it, and the
# inputs the plan must refuse.

run "seed_003_aws_layout" {
  variables {
    cidr               = jsondecode(file("../../../../../environments/resolved/live.json")).environment.network.cidr
    availability_zones = 3
    subnets            = jsondecode(file("../../../../../environments/resolved/live.json")).environment.network.subnets
    per_zone           = ["public", "private"]
  }

  assert {
    condition     = output.zonal_subnets["public-a"].cidr == "10.0.1.0/24" && output.zonal_subnets["public-c"].cidr == "10.0.3.0/24"
    error_message = "public subnets must be seed 003's 10.0.1.0/24 .. 10.0.3.0/24"
  }
  assert {
    condition     = [for key in ["private-a", "private-b", "private-c"] : output.zonal_subnets[key].cidr] == ["10.0.10.0/24", "10.0.20.0/24", "10.0.30.0/24"]
    error_message = "private subnets must be seed 003's 10.0.10/20/30.0/24, one per zone"
  }
  assert {
    condition     = output.zonal_subnets["private-b"].zone_index == 1 && length(output.zonal_subnets) == 6
    error_message = "six zonal subnets, zone index by position"
  }
  assert {
    condition     = output.addresses["private"] == 768
    error_message = "three /24 private subnets hold 768 addresses"
  }
}

run "seed_004_azure_layout_kept_inside_the_vnet" {
  variables {
    cidr               = "10.0.0.0/16"
    availability_zones = 3
    subnets            = jsondecode(file("../../../../../environments/resolved/azure-production.json")).environment.network.subnets
  }

  assert {
    condition     = output.regional_subnets["aks"] == "10.0.0.0/20" && output.regional_subnets["gateway"] == "10.0.18.0/27"
    error_message = "the AKS subnet is seed 004's 10.0.0.0/20 and the gateway a /27"
  }
  assert {
    condition     = output.addresses["aks"] == 4096 && output.addresses["gateway"] == 32
    error_message = "seed 004 sizes: aks 4096 addresses, gateway 32"
  }
  assert {
    condition     = length(output.zonal_subnets) == 0
    error_message = "Azure subnets are regional"
  }
}

run "rejects_seed_004_subnets_outside_the_address_space" {
  command = plan
  variables {
    cidr               = "10.0.0.0/16"
    availability_zones = 3
    subnets = {
      aks     = ["10.0.0.0/20"]
      db      = ["10.1.0.0/24"]
      cache   = ["10.2.0.0/24"]
      gateway = ["10.3.0.0/27"]
    }
  }
  expect_failures = [var.subnets]
}

run "rejects_overlapping_subnets" {
  command = plan
  variables {
    cidr               = "10.0.0.0/16"
    availability_zones = 2
    subnets            = { public = ["10.0.0.0/24", "10.0.1.0/24"], private = ["10.0.1.128/25", "10.0.8.0/24"] }
    per_zone           = ["public", "private"]
  }
  expect_failures = [var.subnets]
}

run "rejects_a_malformed_network" {
  command = plan
  variables {
    cidr               = "10.0.0.1/16"
    availability_zones = 3
    subnets            = { aks = ["10.0.0.0/20"] }
  }
  expect_failures = [var.cidr]
}

run "rejects_a_malformed_subnet" {
  command = plan
  variables {
    cidr               = "10.0.0.0/16"
    availability_zones = 3
    subnets            = { aks = ["10.0.300.0/20"] }
  }
  expect_failures = [var.subnets]
}

run "rejects_a_single_zone" {
  command = plan
  variables {
    cidr               = "10.0.0.0/16"
    availability_zones = 1
    subnets            = { public = ["10.0.1.0/24"] }
    per_zone           = ["public"]
  }
  expect_failures = [var.availability_zones]
}

run "rejects_too_few_subnets_for_the_zones" {
  command = plan
  variables {
    cidr               = "10.0.0.0/16"
    availability_zones = 3
    subnets            = { public = ["10.0.1.0/24", "10.0.2.0/24"] }
    per_zone           = ["public"]
  }
  expect_failures = [var.per_zone]
}
