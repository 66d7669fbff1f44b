variables {
  repository_root = abspath("../../../../..")
}

run "seed_000_releases_for_live" {
  variables {
    environment = {
      name          = "live"
      cloud         = "aws"
      namespaces    = yamldecode(file("../../../../../environments/live.yaml")).namespaces
      values_layers = yamldecode(file("../../../../../environments/live.yaml")).helm.values_layers
    }
  }

  assert {
    condition     = alltrue([for name in ["livekit-server", "sip-service", "agent-service", "base", "kube-prometheus-stack", "loki"] : contains(keys(output.releases), name)])
    error_message = "seed 000 names LiveKit, SIP, agents, the base chart, Prometheus/Grafana and Loki"
  }
  assert {
    condition     = !contains(keys(output.releases), "sealed-secrets") && contains(keys(output.releases), "external-secrets")
    error_message = "AWS uses external-secrets; sealed-secrets is Linode's"
  }
  assert {
    condition     = output.releases["kube-prometheus-stack"].timeout_seconds == 900 && output.releases["base"].timeout_seconds == 600
    error_message = "timeouts: 15m -> 900 s, default 10m -> 600 s"
  }
  assert {
    condition     = output.releases["base"].local && output.releases["cert-manager"].repository == "https://charts.jetstack.io"
    error_message = "local charts by path, upstream charts by repository"
  }
  assert {
    condition     = endswith(output.releases["loki"].values_files[1], "charts/values/live/loki.yaml") && length(output.releases["loki"].values_files) == 2
    error_message = "values files come from the environment's layers in order (common, then live)"
  }
  assert {
    condition     = contains(output.by_wave["-20"], "cert-manager") && contains(output.by_wave["-10"], "base")
    error_message = "operators in wave -20, base in -10"
  }
}

run "linode_development_gets_only_its_roles" {
  variables {
    environment = {
      name          = "development"
      cloud         = "linode"
      namespaces    = yamldecode(file("../../../../../environments/development.yaml")).namespaces
      values_layers = yamldecode(file("../../../../../environments/development.yaml")).helm.values_layers
    }
  }

  assert {
    condition     = !contains(keys(output.releases), "kube-prometheus-stack") && output.releases["agent-service"].namespace == "development"
    error_message = "development has no observability role (the cluster owner runs it); agents go to its own namespace"
  }
}

run "rejects_a_wave_the_stack_does_not_install" {
  command = plan
  variables {
    supported_waves = [-20, 0, 5, 10]
    environment = {
      name          = "live"
      cloud         = "aws"
      namespaces    = yamldecode(file("../../../../../environments/live.yaml")).namespaces
      values_layers = yamldecode(file("../../../../../environments/live.yaml")).helm.values_layers
    }
  }
  expect_failures = [output.releases]
}
