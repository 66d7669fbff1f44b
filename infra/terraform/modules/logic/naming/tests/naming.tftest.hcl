run "seed_004_azure_names" {
  variables {
    workload    = "voiceassistant"
    stage       = "prod"
    environment = "azure-production"
    cloud       = "azure"
    region      = "eastus"
  }

  assert {
    condition = jsonencode(output.names) == jsonencode({
      resource_group       = "rg-voiceassistant-prod-eastus"
      virtual_network      = "vnet-voiceassistant-prod"
      kubernetes_cluster   = "aks-voiceassistant-prod"
      postgresql           = "psql-voiceassistant-prod"
      redis                = "redis-voiceassistant-prod"
      storage_account      = "stvoiceassistantprod"
      key_vault            = "kv-voiceassistant-prod"
      container_registry   = "acrvoiceassistantprod"
      application_gateway  = "appgw-voiceassistant-prod"
      waf_policy           = "waf-voiceassistant-prod"
      livekit_balancer     = "lb-livekit-prod"
      application_insights = "appi-voiceassistant-prod"
      log_analytics        = "log-voiceassistant-prod"
      traffic_manager      = "traf-voiceassistant-prod"
    })
    error_message = "Azure names must be seed 004's"
  }
  assert {
    condition     = output.tags["environment"] == "azure-production" && output.tags["managed-by"] == "terraform"
    error_message = "every resource is tagged with its registry environment"
  }
}

run "aws_names_and_linode_tags" {
  variables {
    workload    = "voiceops"
    stage       = "live"
    environment = "live"
    cloud       = "aws"
    region      = "us-west-2"
    extra_tags  = { owner = "platform" }
  }

  assert {
    condition     = output.names["eks_cluster"] == "eks-voiceops-live" && output.names["egress_bucket"] == "voiceops-live-livekit-egress"
    error_message = "AWS names are <workload>-<stage>-<kind>; the cluster matches the registry's eks-voiceops-live"
  }
  assert {
    condition     = contains(output.tag_list, "owner:platform") && contains(output.tag_list, "environment:live")
    error_message = "tag_list carries the extra and the standard tags"
  }
}

run "rejects_names_too_long_for_azure_storage" {
  command = plan
  variables {
    workload    = "voiceassistantplatfo"
    stage       = "production"
    environment = "azure-production"
    cloud       = "azure"
    region      = "eastus"
  }
  expect_failures = [output.names]
}

run "rejects_an_unknown_cloud" {
  command = plan
  variables {
    workload    = "voiceops"
    stage       = "live"
    environment = "live"
    cloud       = "gcp"
    region      = "europe-west1"
  }
  expect_failures = [var.cloud]
}

run "rejects_uppercase_workload" {
  command = plan
  variables {
    workload    = "VoiceOps"
    stage       = "live"
    environment = "live"
    cloud       = "aws"
    region      = "us-west-2"
  }
  expect_failures = [var.workload]
}
