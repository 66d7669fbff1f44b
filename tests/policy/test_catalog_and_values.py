"""The release catalog, the Argo CD applications generated from it, our chart schemas and
the values we pass the upstream charts."""

import os
import subprocess

import pytest
import yaml

from voiceops import (
    catalog,
    chart_schemas,
    connections,
    environments,
    gitops,
    render,
    secret_bundles,
    toolchain,
    wiring,
)
from voiceops.toolchain import ROOT

VALUES = ROOT / "charts" / "values"


def values(layer, release):
    return yaml.safe_load((VALUES / layer / f"{release}.yaml").read_text())


GITOPS = [env.name for env in environments.load_all() if env.delivery is environments.Delivery.GITOPS]


@pytest.mark.parametrize("name", GITOPS)
def test_argocd_applications_name_only_files_that_exist(rendered, name):
    """No Application leans on ignoreMissingValueFiles: every values file, chart path and file
    parameter it names is in the repository, and production-class ones never sync by themselves."""
    environment = environments.load(name)
    applications = [m for m in rendered(name) if m["kind"] == "Application"]
    assert len(applications) == len(catalog.releases_for(environment))
    for application in applications:
        values_source, chart_source = application["spec"]["sources"]
        assert values_source["ref"] == "values"
        for path in chart_source["helm"]["valueFiles"]:
            assert (ROOT / path.removeprefix("$values/")).is_file(), path
        if "path" in chart_source:
            chart_dir = ROOT / chart_source["path"]
            assert (chart_dir / "Chart.yaml").is_file()
            for parameter in chart_source["helm"]["fileParameters"]:
                assert (chart_dir / parameter["path"]).resolve().is_file(), parameter
        assert ("automated" in application["spec"]["syncPolicy"]) is not environment.production_class


def kustomize_build(directory, overlay, patches):
    """The overlay with a bootstrap's patches applied, as Argo CD's kustomize applies them."""
    kustomization = {"resources": [os.path.relpath(ROOT / overlay, directory)], "patches": patches}
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return subprocess.run(
        ["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(directory)],
        env=toolchain.tool_env(), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_preview_patches_give_each_pull_request_its_own_objects(tmp_path):
    """Kustomize applies the preview ApplicationSet's patches, as Argo CD does, for pull request 7."""
    bootstrap = yaml.safe_load((gitops.BOOTSTRAP_DIR / "eks-voiceops-sandbox.yaml").read_text())
    source = bootstrap["spec"]["template"]["spec"]["source"]
    patches = [
        {**patch, "patch": patch["patch"].replace("{{ .number }}", "7")}
        for patch in source["kustomize"]["patches"]
    ]
    built = kustomize_build(tmp_path, source["path"], patches)
    objects = list(yaml.safe_load_all(built))
    applications = [o for o in objects if o["kind"] == "Application"]
    assert applications and all(a["metadata"]["name"].endswith("-pr-7") for a in applications)
    # every release in the pull request's namespace; the namespace owner stays in `default`
    assert {a["spec"]["destination"]["namespace"] for a in applications} == {"preview-pr-7", "default"}
    assert {a["spec"]["project"] for a in applications} == {"voiceops-preview-pr-7"}
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "AppProject"] == ["voiceops-preview-pr-7"]

    # the namespace owner creates the pull request's namespaces, not the registry's `preview`
    [owner] = [a for a in applications if a["metadata"]["name"] == "preview-namespaces-pr-7"]
    chart = owner["spec"]["sources"][1]
    arguments = [f"--set={item['name']}={item['value']}" for item in chart["helm"]["parameters"]]
    arguments += [f"--values={ROOT / path.removeprefix('$values/')}" for path in chart["helm"]["valueFiles"]]
    arguments += [f"--set-file={item['name']}={(ROOT / chart['path'] / item['path']).resolve()}"
                  for item in chart["helm"]["fileParameters"]]  # fmt: skip
    render.build_dependencies(ROOT / chart["path"])
    rendered = subprocess.run(
        ["helm", "template", "namespaces", str(ROOT / chart["path"]), *arguments],
        env=toolchain.tool_env(), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    documents = [item for item in yaml.safe_load_all(rendered) if item]
    assert [item["metadata"]["name"] for item in documents if item["kind"] == "Namespace"] == ["preview-pr-7"]
    assert {item["metadata"].get("namespace") for item in documents if item["kind"] != "Namespace"} == {
        "preview-pr-7"
    }


def test_every_environment_gets_base_and_its_namespaces():
    for environment in environments.load_all():
        names = [release.name for release in catalog.releases_for(environment)]
        assert "base" in names and names.index("base") < names.index("platform")


def test_catalog_rejects_an_unpinned_upstream_chart(tmp_path):
    broken = tmp_path / "releases.yaml"
    broken.write_text(
        "releases:\n  loki:\n    chart: {repository: https://grafana.github.io/helm-charts, name: loki}\n"
        "    namespace: observability\n    wave: 0\n"
    )
    with pytest.raises(catalog.InvalidCatalog, match="pinned version"):
        catalog.load(broken)


def test_unknown_release_is_named():
    with pytest.raises(catalog.UnknownRelease, match="nosuch"):
        catalog.select(catalog.releases_for(environments.load("local")), ("nosuch",))


def test_committed_chart_schemas_match_their_source():
    assert chart_schemas.stale() == []


def helm_template(chart, *extra):
    render.build_dependencies(ROOT / "charts" / chart)
    return subprocess.run(
        [
            "helm",
            "template",
            "t",
            f"charts/{chart}",
            "--set-file",
            "registry=environments/local.yaml",
            *connections.set_arguments(environments.load("local"), chart),
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=toolchain.tool_env(),
        check=False,
    )


@pytest.mark.parametrize(
    ("chart", "bad_value"),
    [
        ("platform", "services.api-rest.replicaz=2"),
        ("agent-service", "worker.resources.requests.cpu=lots"),
        ("sip-service", "sip.sipPort=notaport"),
        ("base", "podSecurity.platform=relaxed"),
        ("ai-services", "services.stt.gpu=99"),
    ],
)
def test_chart_schema_rejects_unknown_or_mistyped_values(chart, bad_value):
    assert helm_template(chart).returncode == 0
    result = helm_template(chart, "--set", bad_value)
    assert result.returncode != 0 and "schema" in result.stderr


def test_agent_grace_period_must_cover_the_drain():
    result = helm_template("agent-service", "--set", "worker.terminationGracePeriodSeconds=60")
    assert result.returncode != 0 and "drainTimeoutSeconds" in result.stderr


def test_sip_media_ports_cannot_overlap_livekit():
    result = helm_template("sip-service", "--set", "sip.rtpPortEnd=55000")
    assert result.returncode != 0 and "overlaps" in result.stderr


def test_livekit_server_values():
    server = values("common", "livekit-server")
    assert server["livekit"]["prometheus_port"] == 6789
    assert server["livekit"]["rtc"] == {
        "tcp_port": 7881,
        "port_range_start": 50000,
        "port_range_end": 60000,
        "use_external_ip": True,
    }
    assert server["podHostNetwork"] is True
    assert server["autoscaling"]["targetCPUUtilizationPercentage"] == 50  # below the agents' 0.7
    assert server["terminationGracePeriodSeconds"] == 18000
    for cloud in ("aws", "azure"):  # the managed Redis speaks TLS only
        assert values(cloud, "livekit-server")["livekit"]["redis"]["tls"] == {"enabled": True}
    assert server["livekit"]["turn"]["enabled"] is True
    assert server["storeKeysInSecret"]["existingSecret"]
    anti = server["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"


def test_egress_drains_for_an_hour():
    assert values("common", "livekit-egress")["terminationGracePeriodSeconds"] == 3600


ALERTS = {
    "HighErrorRate": "> 0.05",
    "HighLatencyP95": "> 2",
    "PodRestarting": "> 3",
    "NodeCpuHigh": "> 0.8",
    "NodeMemoryHigh": "> 0.8",
    "DatabaseConnectionsHigh": "> 0.8",
    "LiveKitRoomErrors": 'livekit_node_service_operation{status="error"}',
}


def test_the_six_alert_rules_and_their_thresholds():
    stack = values("common", "kube-prometheus-stack")
    rules = {
        rule["alert"]: rule
        for group in stack["additionalPrometheusRulesMap"]["voiceops"]["groups"]
        for rule in group["rules"]
    }
    assert set(rules) == set(ALERTS)
    for alert, threshold in ALERTS.items():
        assert threshold in rules[alert]["expr"], alert
    assert "[5m]" in rules["PodRestarting"]["expr"]


def test_alerts_route_to_pagerduty_and_slack():
    config = values("common", "kube-prometheus-stack")["alertmanager"]["config"]
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    assert "pagerduty_configs" in receivers["pagerduty"] and "slack_configs" in receivers["slack"]
    assert {route["receiver"] for route in config["route"]["routes"]} == {"pagerduty", "slack"}


def test_infrastructure_pod_resources_follow_seed_003():
    stack = values("common", "kube-prometheus-stack")
    assert stack["prometheus"]["prometheusSpec"]["resources"] == {
        "requests": {"cpu": "500m", "memory": "2Gi"},
        "limits": {"cpu": "2000m", "memory": "8Gi"},
    }
    assert stack["grafana"]["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    assert values("common", "fluent-bit")["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}


def test_grafana_sidecar_provisions_our_dashboards(rendered):
    sidecar = values("common", "kube-prometheus-stack")["grafana"]["sidecar"]["dashboards"]
    dashboards = [
        m
        for m in rendered("production")
        if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith("dashboard-")
    ]
    assert {m["metadata"]["name"] for m in dashboards} == {
        "dashboard-environment-overview",
        "dashboard-service-detail",
        "dashboard-infrastructure-health",
    }
    assert all(m["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"] for m in dashboards)


@pytest.mark.parametrize(("environment", "retention"), [("development", "168h"), ("production", "720h")])
def test_loki_retention_per_environment(environment, retention):
    assert values("common", "loki")["loki"]["auth_enabled"] is True  # a tenant per environment
    assert values(environment, "loki")["loki"]["limits_config"]["retention_period"] == retention


def test_vertical_pod_autoscaler_only_recommends():
    vpa = values("common", "vertical-pod-autoscaler")
    assert vpa["recommender"]["enabled"] and not vpa["updater"]["enabled"]
    assert not vpa["admissionController"]["enabled"]


def test_rabbitmq_keeps_streams_and_dead_letters():
    rabbit = values("common", "rabbitmq")
    assert "rabbitmq_stream" in rabbit["extraPlugins"]
    assert rabbit["loadDefinition"]["enabled"] and rabbit["auth"]["existingPasswordSecret"]


# Where each upstream chart, at its pinned version, takes the annotations of a workload that
# reads a bundle Secret (read in its templates: grafana's pod template, bitnami rabbitmq's
# statefulset.yaml, redis-ha's server StatefulSet and HAProxy Deployment, temporal's
# resourceAnnotations for every server Deployment, livekit-server's and the exporter's deployment.yaml)
RELOAD_VALUES = {
    "kube-prometheus-stack-grafana": ("grafana", "podAnnotations"),
    "prometheus-postgres-exporter": ("deployment", "annotations"),
    "rabbitmq": ("statefulsetAnnotations",),
    "redis-ha-server": ("redis", "annotations"),
    "redis-ha-haproxy": ("haproxy", "deploymentAnnotations"),
    "platform-redis-server": ("redis", "annotations"),
    "platform-redis-haproxy": ("haproxy", "deploymentAnnotations"),
    "temporal-frontend": ("server", "deploymentAnnotations"),
    "temporal-history": ("server", "deploymentAnnotations"),
    "temporal-matching": ("server", "deploymentAnnotations"),
    "temporal-worker": ("server", "deploymentAnnotations"),
    "livekit-server": ("deploymentAnnotations",),
}
# Rolled by no one: the Prometheus Operator's config-reloader watches the Secrets it mounts
OPERATOR_WATCHED = {"alertmanager-kube-prometheus-stack-alertmanager"}
CLUSTERS = [env.name for env in environments.load_all() if env.cloud is not environments.Cloud.LOCAL]


@pytest.mark.parametrize("name", CLUSTERS)
def test_upstream_readers_of_rotated_secrets_carry_reloaders_annotation(name):
    """What the reloads rule reports unverified without the chart cache, read from our values."""
    environment = environments.load(name)
    releases = {release.name: release for release in catalog.releases_for(environment)}
    checked = 0
    for item in secret_bundles.for_environment(environment):
        for consumer in item.declared.secret.consumers:
            release = releases.get(consumer.release)
            if release is None or consumer.release not in item.releases or release.chart.local:
                continue
            for workload in set(consumer.workloads) - OPERATOR_WATCHED:
                node = catalog.merged_values(release)
                for key in RELOAD_VALUES[workload]:
                    node = node.get(key) or {}
                named = str(node.get(wiring.RELOAD_ANNOTATION, "")).split(",")
                assert item.name in named, (
                    f"{consumer.release}: {workload} is not rolled when {item.name} changes"
                )
                checked += 1
    assert checked


def test_reloader_rolls_by_annotation_in_our_namespaces_on_every_cluster():
    reloader = catalog.load().releases[wiring.RELOADER]
    assert environments.Cloud.LOCAL not in reloader.clouds
    # before the base chart (wave -10) writes the first Secret, and before every reader
    readers = {consumer.release for bundle in secret_bundles.load_all().values()
               for secret in bundle.secrets.values() for consumer in secret.consumers}  # fmt: skip
    assert all(catalog.load().releases[name].wave >= reloader.wave for name in readers)
    assert reloader.wave < catalog.load().releases["base"].wave
    settings = values("common", "reloader")["reloader"]
    assert settings["reloadStrategy"] == "annotations" and not settings["autoReloadAll"]
    assert settings["ignoreJobs"] and settings["ignoreCronJobs"]


def test_every_values_file_belongs_to_a_catalog_release_and_a_registry_layer():
    releases = set(catalog.load().releases)
    layers = {layer for environment in environments.load_all() for layer in environment.helm.values_layers}
    for path in VALUES.glob("*/*.yaml"):
        assert path.stem in releases, f"{path} names no catalog release"
        assert str(path.parent.relative_to(ROOT)) in layers, f"{path.parent} is no registry layer"


def test_releases_whose_charts_are_not_cached_are_unverified_never_clean(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "CHART_CACHE", tmp_path / "empty-cache")
    environment = environments.load("development")
    result = render.gate(environment, render.render_environment(environment, out_dir=tmp_path / "out"))
    upstream = {release.name for release in catalog.releases_for(environment) if not release.chart.local}
    assert upstream and {item.name for item in result.render.unverified} == upstream
    assert all("invoke charts.pull" in item.detail for item in result.render.unverified)
    assert sorted(render.summary(result)["unverified"]) == sorted(upstream)
    assert render.summary_row(result)[5] == str(len(upstream))


def test_the_bootstrap_patches_each_published_fact_into_the_releases_that_take_it(tmp_path):
    """Kustomize applies the staging bootstrap's patches as Argo CD does once the clusters
    generator has filled each fact from the cluster Secret the Linode stack writes."""
    bootstraps = yaml.safe_load_all((gitops.BOOTSTRAP_DIR / "lke-voiceops.yaml").read_text())
    bootstrap = next(item for item in bootstraps if item["metadata"]["name"] == "bootstrap-staging")
    assert bootstrap["kind"] == "ApplicationSet"
    selector = bootstrap["spec"]["generators"][0]["clusters"]["selector"]["matchLabels"]
    assert selector == {gitops.CONNECTIONS_LABEL: "true"}
    source = bootstrap["spec"]["template"]["spec"]["source"]
    template = gitops.fact_parameter("temporal-postgres-host")
    assert "fail" in template  # an unpublished fact stops the generator
    patches = []
    for patch in source["kustomize"]["patches"]:
        operations = yaml.safe_load(patch["patch"])
        for parameter in operations[0]["value"]:
            assert parameter["value"] == template
            parameter["value"] = "db.example"  # what the generator makes of the annotation
        patches.append({**patch, "patch": yaml.safe_dump(operations)})
    built = kustomize_build(tmp_path, source["path"], patches)
    parameters = {
        item["metadata"]["name"]: item["spec"]["sources"][1]["helm"].get("parameters")
        for item in yaml.safe_load_all(built)
        if item["kind"] == "Application"
    }
    assert parameters["staging-temporal"] == [
        {"name": "server.config.persistence.default.sql.host", "value": "db.example", "forceString": True},
        {"name": "server.config.persistence.visibility.sql.host", "value": "db.example", "forceString": True},
    ]
    redis = [{"name": "sip.redis.address", "value": "redis-ha-haproxy.staging-rtc.svc.cluster.local:6379",
              "forceString": True}]  # fmt: skip
    assert parameters["staging-sip-service"] == redis  # an address of the environment, given as it is
    patched = {name for name, value in parameters.items() if value}
    assert patched == {
        "staging-temporal",
        "staging-sip-service",
        "staging-livekit-server",
        "staging-livekit-egress",
    }


def test_a_connection_consumer_must_name_a_catalog_release_and_a_declared_fact(tmp_path):
    broken = tmp_path / "connections.yaml"
    broken.write_text(
        "facts: {redis-cluster-address: {description: a Redis}}\npublishers: {aws: modules/aws/platform}\n"
        "consumers:\n  livekit-server:\n    - {value: livekit.redis.address, fact: nosuch-fact}\n"
    )
    with pytest.raises(connections.InvalidConnections, match="nosuch-fact is not declared"):
        connections.load(broken)
