"""The wiring rules against real rendered environments: each rule resolves what is wired and
reports what is broken when a producer is removed or renamed in a real render."""

import copy
from dataclasses import replace
from datetime import date

import pytest
import yaml

from voiceops import connections, environments, render, secret_bundles, wiring
from voiceops.environments import Cloud
from voiceops.wiring import Status

from .stand_ins import ingress_nginx, kong, livekit_server, with_upstream


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("wiring")
    targets = [environments.load(name) for name in ("local", "live", "production", "staging")]
    return {item.environment: item for item in render.render_all(targets, out_dir=out)}


def installed(rendered, name, cached=True):
    """An environment as rendered; cached=True reads it as if every upstream chart were in the
    cache, so a missing target is dangling rather than unverified (the gate runs without it)."""
    result, _unverified = wiring.installed_from(environments.load(name), rendered)
    result = copy.deepcopy(result)
    if cached:
        result.unverified_namespaces = frozenset()
    return result


def statuses(references, **match):
    return [
        item.status for item in references if all(getattr(item, key) == value for key, value in match.items())
    ]


def without(manifests, kind, name):
    kept = [item for item in manifests if not (item["kind"] == kind and item["metadata"]["name"] == name)]
    assert len(kept) < len(manifests), f"{kind}/{name} is not rendered"
    return kept


def first(references, status):
    return next(item for item in references if item.status is status)


def test_a_config_map_resolves_only_in_the_pods_namespace_and_only_while_produced(rendered):
    local = installed(rendered, "local")
    config_map = next(item for item in local.manifests if item["kind"] == "ConfigMap")
    deployment = next(item for item in local.manifests if item["kind"] == "Deployment")
    namespace, name = deployment["metadata"]["namespace"], config_map["metadata"]["name"]
    assert config_map["metadata"]["namespace"] != namespace
    pod = deployment["spec"]["template"]["spec"]
    pod["volumes"] = [*pod.get("volumes", []), {"name": "settings", "configMap": {"name": name}}]
    source, target = wiring.ref(deployment), f"ConfigMap/{name}"
    assert statuses(wiring.config_maps(local), source=source, target=target) == [Status.DANGLING]
    config_map["metadata"]["namespace"] = namespace
    assert statuses(wiring.config_maps(local), source=source, target=target) == [Status.RESOLVED]
    local.manifests = local.cluster = without(local.cluster, "ConfigMap", name)
    assert statuses(wiring.config_maps(local), source=source, target=target) == [Status.DANGLING]


def test_a_secret_is_unproduced_until_its_sealed_value_is_provisioned(rendered):
    production = installed(rendered, "production")
    reference = first(wiring.secrets(production), Status.UNPRODUCED)
    namespace = reference.source.split("/")[1]
    name = reference.target.split("/", 1)[1]
    production.cluster = [*production.cluster, {
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": name, "namespace": namespace}, "spec": {"encryptedData": {}},
    }]  # fmt: skip
    assert statuses(wiring.secrets(production), source=reference.source, target=reference.target) == [
        Status.RESOLVED
    ]


def test_a_host_name_dangles_when_its_service_or_port_is_not_rendered(rendered):
    production = installed(rendered, "production")
    reference = next(
        item for item in wiring.hosts(production) if item.status is Status.RESOLVED and ":" in item.target
        and not item.target.startswith(("Service/default/", "Service/kube-system/"))
    )  # fmt: skip
    namespace, name = reference.target.split("/")[1], reference.target.split("/")[2].split(":")[0]
    services = [
        item
        for item in production.cluster
        if item["kind"] == "Service"
        and (item["metadata"]["name"], item["metadata"].get("namespace")) == (name, namespace)
    ]
    for port in services[0]["spec"]["ports"]:
        port["port"] = 1
    assert Status.DANGLING in statuses(
        wiring.hosts(production), source=reference.source, target=reference.target
    )
    production.cluster = [
        item for item in production.cluster if not any(item is service for service in services)
    ]
    assert Status.DANGLING in statuses(
        wiring.hosts(production), source=reference.source, target=reference.target
    )


def test_a_pod_whose_service_account_is_not_rendered_dangles(rendered):
    live = installed(rendered, "live")
    reference = next(
        item
        for item in wiring.service_accounts(live)
        if item.status is Status.RESOLVED and item.target.startswith("ServiceAccount/agents/")
    )
    live.cluster = without(live.cluster, "ServiceAccount", reference.target.rsplit("/", 1)[1])
    assert Status.DANGLING in statuses(wiring.service_accounts(live), source=reference.source)


CLAIM = {
    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
    "metadata": {"name": "data", "namespace": "platform"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
}  # fmt: skip


def test_a_claim_without_a_class_needs_the_default_class_the_base_chart_gives_eks(rendered):
    live = installed(rendered, "live")
    live.manifests = [*live.manifests, CLAIM]
    assert statuses(wiring.storage(live), source="PersistentVolumeClaim/platform/data") == [Status.RESOLVED]
    live.cluster = without(live.cluster, "StorageClass", "auto-ebs-gp3")
    assert statuses(wiring.storage(live), source="PersistentVolumeClaim/platform/data") == [Status.DANGLING]
    named = {**CLAIM, "spec": {**CLAIM["spec"], "storageClassName": "fast"}}
    production = installed(rendered, "production")
    production.manifests = [*production.manifests, named]
    assert statuses(wiring.storage(production), source="PersistentVolumeClaim/platform/data") == [
        Status.DANGLING
    ]


def test_gpu_workloads_need_a_gpu_pool_and_the_gpu_pool_a_taint(rendered):
    live = installed(rendered, "live")
    vllm = "Deployment/ai/ai-services-vllm"
    assert statuses(wiring.scheduling(live), source=vllm) == [Status.RESOLVED]
    cluster = live.environment.cluster
    no_gpu = cluster.model_copy(update={"node_pools": tuple(p for p in cluster.node_pools if not p.gpu)})
    live.environment = live.environment.model_copy(update={"cluster": no_gpu})
    assert statuses(wiring.scheduling(live), source=vllm) == [Status.DANGLING]

    untainted = tuple(p.model_copy(update={"taints": ()}) for p in cluster.node_pools)
    live.environment = live.environment.model_copy(
        update={"cluster": cluster.model_copy(update={"node_pools": untainted})}
    )
    assert Status.DANGLING in statuses(wiring.scheduling(live), target="pool/gpu")


PROMETHEUS = {
    "apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
    "metadata": {"name": "kube-prometheus-stack-prometheus", "namespace": "observability"},
    "spec": {"serviceMonitorSelector": {"matchLabels": {"release": "kube-prometheus-stack"}},
             "serviceMonitorNamespaceSelector": {}},
}  # fmt: skip


def test_a_service_monitor_without_the_label_prometheus_selects_dangles(rendered):
    local = installed(rendered, "local")
    if not any(item["kind"] == "Prometheus" for item in local.cluster):
        local.cluster = [*local.cluster, copy.deepcopy(PROMETHEUS)]  # kube-prometheus-stack is not cached
    monitors = [item for item in local.manifests if item["kind"] == "ServiceMonitor"]
    monitor = next(item for item in monitors if item["metadata"]["labels"].get("release"))
    source = wiring.ref(monitor)
    assert statuses(wiring.monitors(local), source=source) == [Status.RESOLVED]
    for prometheus in (item for item in local.cluster if item["kind"] == "Prometheus"):
        # the chart's default selection: only monitors labelled with its release
        prometheus["spec"]["serviceMonitorSelector"] = {"matchLabels": {"release": "kube-prometheus-stack"}}
    assert statuses(wiring.monitors(local), source=source) == [Status.RESOLVED]
    monitor["metadata"]["labels"]["release"] = "another-prometheus"
    assert statuses(wiring.monitors(local), source=source) == [Status.DANGLING]


def test_every_namespace_has_one_owner_there_before_the_releases_that_need_it(rendered):
    for name in ("local", "live", "staging"):
        assert {item.status for item in wiring.namespaces(installed(rendered, name))} == {Status.RESOLVED}


def test_a_namespace_rendered_and_created_by_the_installer_has_two_owners(rendered, monkeypatch):
    local = installed(rendered, "local")
    monkeypatch.setattr(wiring, "installer_creates_namespaces", lambda _installed: True)
    double = {item.target for item in wiring.namespaces(local) if item.status is Status.DANGLING}
    assert double == {f"Namespace/{release.namespace}" for release in local.releases} - {"Namespace/default"}


def test_a_namespace_its_owner_creates_after_a_release_needs_it_dangles(rendered):
    staging = installed(rendered, "staging")
    staging.releases = [
        replace(release, spec=release.spec.model_copy(update={"wave": 20}))
        if release.name == "namespaces"
        else release
        for release in staging.releases
    ]
    late = [item for item in wiring.namespaces(staging) if item.status is Status.DANGLING]
    assert late and all("comes at wave 20" in item.detail for item in late)


def test_a_rule_that_sees_nothing_where_its_kinds_are_installed_is_blind(rendered):
    local = installed(rendered, "local")
    report = wiring.check(local, {"service-accounts": lambda _installed: []})
    assert report.blind_rules == ["service-accounts"] and not report.passed


def test_an_open_row_turns_its_dangling_reference_open_until_it_expires(rendered, tmp_path):
    local = installed(rendered, "local")
    local.cluster = without(local.cluster, "ServiceAccount", "agent-service-worker")
    dangling = wiring.check(local).dangling[0]
    row = {"rule": dangling.rule, "environments": ["local"], "source": dangling.source,
           "target": dangling.target, "reason": "fix under way: the base chart moves first",
           "expires": "2027-01-31"}  # fmt: skip
    path = tmp_path / "open.yaml"
    path.write_text(yaml.safe_dump({"defects": [row]}))
    known = wiring.load_open(path)
    marked = wiring.mark_open(wiring.check(local), known, today=date(2027, 1, 31))
    assert dangling not in marked.dangling
    expired = wiring.mark_open(wiring.check(local), known, today=date(2027, 2, 1))
    assert dangling in expired.dangling


def test_an_open_row_naming_an_unknown_rule_or_environment_is_refused(tmp_path):
    row = {"rule": "hosts", "environments": ["nowhere"], "source": "a", "target": "b",
           "reason": "a reason that is long enough", "expires": "2027-01-31"}  # fmt: skip
    path = tmp_path / "open.yaml"
    path.write_text(yaml.safe_dump({"defects": [row]}))
    with pytest.raises(wiring.InvalidOpenList, match=r"defects\.0\.environments: unknown nowhere"):
        wiring.load_open(path)


def test_a_workload_its_namespace_level_refuses_is_not_admitted(rendered):
    live = installed(rendered, "live")
    platform = [item for item in live.manifests if item["metadata"].get("namespace") == "platform"]
    deployment = next(item for item in platform if item["kind"] == "Deployment")
    source = wiring.ref(deployment)
    assert statuses(wiring.admission_rule(live), source=source) == [Status.RESOLVED]
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0
    [reference] = [item for item in wiring.admission_rule(live) if item.source == source]
    assert reference.status is Status.DANGLING and "running-as-non-root-user" in reference.detail


def test_a_policy_opening_all_egress_needs_its_reason(rendered):
    live = installed(rendered, "live")
    assert {item.status for item in wiring.egress(live)} == {Status.RESOLVED}
    policy = next(item for item in live.manifests if item["kind"] == "NetworkPolicy"
                  and wiring.EGRESS_REASON in (item["metadata"].get("annotations") or {}))  # fmt: skip
    del policy["metadata"]["annotations"][wiring.EGRESS_REASON]
    assert statuses(wiring.egress(live), source=wiring.ref(policy)) == [Status.DANGLING]


def test_the_bindings_are_read_from_the_aws_stack():
    bindings = {name: (role, account) for name, role, account in wiring.identity_bindings(Cloud.AWS)}
    assert bindings["livekit-egress"] == ("livekit", "livekit-egress")
    assert bindings["velero"] == ("system", "velero")


def test_a_cloud_role_bound_to_a_service_account_no_pod_runs_as_dangles(rendered, monkeypatch):
    live = installed(rendered, "live")
    binding = ("sip", "livekit", "sip-service-server")  # a real workload of the live render
    monkeypatch.setattr(wiring, "identity_bindings", lambda _cloud: iter([binding]))
    assert statuses(wiring.identities(live)) == [Status.RESOLVED]
    sip = next(item for item in live.manifests if item["kind"] == "Deployment"
               and item["metadata"]["name"] == "sip-service-server")  # fmt: skip
    sip["spec"]["template"]["spec"]["serviceAccountName"] = "default"
    assert statuses(wiring.identities(live)) == [Status.DANGLING]


def test_a_target_an_uncached_chart_may_render_is_unverified_not_dangling(rendered):
    live = installed(rendered, "live", cached=False)
    live.unverified_namespaces = frozenset({"agents"})
    live.cluster = without(live.cluster, "ServiceAccount", "agent-service-worker")
    assert Status.UNVERIFIED in statuses(
        wiring.service_accounts(live), target="ServiceAccount/agents/agent-service-worker"
    )


def with_adapter(installed_env):
    """The prometheus-adapter configuration as our values give it (the chart renders its rules
    into config.yaml of this ConfigMap), whether or not the chart is in the cache."""
    values = yaml.safe_load((render.ROOT / "charts/values/common/prometheus-adapter.yaml").read_text())
    config = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "prometheus-adapter", "namespace": "observability",
                     "labels": {"app.kubernetes.io/name": "prometheus-adapter"}},
        "data": {"config.yaml": yaml.safe_dump({"rules": values["rules"]["custom"]})},
    }  # fmt: skip
    installed_env.cluster = [
        item for item in installed_env.cluster
        if not (item["kind"] == "ConfigMap" and item["metadata"]["name"] == "prometheus-adapter")
    ] + [config]  # fmt: skip
    return installed_env


def test_promql_metric_names_leave_out_functions_labels_and_keywords():
    expression = 'sum by (le) (rate(http_request_duration_seconds_bucket{code=~"5.."}[5m])) / on(pod) up > 2'
    assert wiring.promql_metrics(expression) == {"http_request_duration_seconds_bucket", "up"}


def test_an_autoscaler_metric_must_be_served_exported_and_scraped(rendered):
    local = with_adapter(installed(rendered, "local"))
    hpa = next(item for item in local.manifests if item["kind"] == "HorizontalPodAutoscaler"
               and item["metadata"]["name"] == "sip-service-server")  # fmt: skip
    source = wiring.ref(hpa)
    assert statuses(wiring.metrics(local), source=source) == [Status.RESOLVED]

    pods_metric = next(metric for metric in hpa["spec"]["metrics"] if metric["type"] == "Pods")
    pods_metric["pods"]["metric"]["name"] = "livekit_sip_active_calls"  # the name livekit/sip never had
    [reference] = [item for item in wiring.metrics(local) if item.source == source]
    assert reference.status is Status.DANGLING and "no prometheus-adapter rule" in reference.detail
    pods_metric["pods"]["metric"]["name"] = "livekit_sip_calls_active"

    local.cluster = without(local.cluster, "ServiceMonitor", "sip-service-server")
    [reference] = [item for item in wiring.metrics(local) if item.source == source]
    assert (
        reference.status is Status.DANGLING and "no ServiceMonitor or PodMonitor scrapes" in reference.detail
    )


def test_the_metric_inventory_names_only_catalog_releases(tmp_path):
    path = tmp_path / "metrics.yaml"
    path.write_text(yaml.safe_dump({"releases": {"nowhere": {"source": "x", "metrics": [
        {"name": "up", "kind": "gauge", "defined_in": "x"}]}}}))  # fmt: skip
    with pytest.raises(wiring.InvalidInventory, match=r"releases\.nowhere: not a release"):
        wiring.load_inventory(path)


# livekit-server's Service and pods as its chart renders them, for a run without the chart cache
LIVEKIT_LABELS = {"app.kubernetes.io/name": "livekit-server", "app.kubernetes.io/instance": "livekit-server"}
LIVEKIT_SERVICE = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "livekit-server", "namespace": "livekit"},
    "spec": {"selector": LIVEKIT_LABELS, "ports": [{"name": "http", "port": 7880, "targetPort": "http"}]},
}  # fmt: skip
LIVEKIT_POD = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "livekit-server", "namespace": "livekit"},
    "spec": {"template": {"metadata": {"labels": LIVEKIT_LABELS}, "spec": {"containers": [
        {"name": "livekit-server", "ports": [{"name": "http", "containerPort": 7880}]}]}}},
}  # fmt: skip


def test_a_connection_the_network_policies_deny_on_either_end_dangles(rendered):
    live = installed(rendered, "live")
    source, target = "Deployment/agents/agent-service-worker", "Service/livekit/livekit-server:7880"
    live.cluster = (
        [*live.cluster, LIVEKIT_SERVICE, LIVEKIT_POD]
        if not any(
            item["kind"] == "Service" and item["metadata"]["name"] == "livekit-server"
            for item in live.cluster
        )
        else live.cluster
    )
    assert statuses(wiring.connectivity(live), source=source, target=target) == [Status.RESOLVED]

    policies = [item for item in live.cluster if item["kind"] == "NetworkPolicy"]
    agents_policy = next(item for item in policies if item["metadata"]["name"] == "agent-service-worker")
    kept = copy.deepcopy(agents_policy["spec"]["egress"])
    agents_policy["spec"]["egress"] = [
        rule for rule in kept if "to" in rule
    ]  # only DNS and the own namespace
    [reference] = [
        item for item in wiring.connectivity(live) if item.source == source and item.target == target
    ]
    assert reference.status is Status.DANGLING and "deny egress" in reference.detail
    agents_policy["spec"]["egress"] = kept

    media = next(item for item in policies if item["metadata"]["name"] == "allow-media-traffic")
    media["spec"]["ingress"] = [{"ports": [{"port": 3478, "protocol": "UDP"}]}]
    [reference] = [
        item for item in wiring.connectivity(live) if item.source == source and item.target == target
    ]
    assert reference.status is Status.DANGLING and "deny ingress" in reference.detail


SIP_REDIS = "release/{env}/sip-service#sip.redis.clusterAddress"


def test_a_connection_fact_resolves_only_while_the_stack_publishes_it(rendered, monkeypatch):
    live = installed(rendered, "live")
    source = SIP_REDIS.format(env="live")
    assert statuses(wiring.connection_facts(live), source=source) == [Status.RESOLVED]
    published = connections.published(Cloud.AWS)
    assert published["redis-cluster-address"].startswith("${module.redis.configuration_endpoint}")
    without_redis = {fact: value for fact, value in published.items() if fact != "redis-cluster-address"}
    monkeypatch.setattr(connections, "published", lambda _cloud, _tree=None: without_redis)
    assert statuses(wiring.connection_facts(live), source=source) == [Status.DANGLING]


def test_a_connection_value_the_chart_does_not_use_dangles(rendered, monkeypatch, tmp_path):
    """An upstream chart ignores a key it does not know, so its render never holds the fact: as
    when livekit-server is given a misspelt path (our own charts' schemas refuse such a key)."""
    live = installed(rendered, "live")
    source = SIP_REDIS.format(env="live")
    assert statuses(wiring.connection_facts(live), source=source) == [Status.RESOLVED]
    filled = connections.placeholder("redis-cluster-address")
    live.rendered_text["sip-service"] = live.rendered_text["sip-service"].replace(filled, "")
    assert statuses(wiring.connection_facts(live), source=source) == [Status.DANGLING]
    typo = connections.Consumer(value="sip.redis.clusterAdress", fact="redis-cluster-address")
    monkeypatch.setattr(
        connections, "consumers", lambda _env, release: (typo,) if release == "sip-service" else ()
    )
    with pytest.raises(render.RenderFailed, match="schema"):
        render.render_environment(environments.load("live"), only=("sip-service",), out_dir=tmp_path)


def test_a_gitops_environment_gets_its_facts_only_through_the_bootstrap_patch(rendered, monkeypatch):
    staging = installed(rendered, "staging")
    source = "release/staging/temporal#server.config.persistence.default.sql.host"
    found = statuses(wiring.connection_facts(staging), source=source)
    assert found in ([Status.RESOLVED], [Status.UNVERIFIED])  # unverified: temporal's chart is not cached
    if staging.rendered_text.get("temporal") is None:  # as the cached chart renders it
        staging.rendered_text["temporal"] = connections.placeholder("temporal-postgres-host")
    assert statuses(wiring.connection_facts(staging), source=source) == [Status.RESOLVED]
    monkeypatch.setattr(wiring, "bootstrap_parameters", lambda _environment: set())
    assert statuses(wiring.connection_facts(staging), source=source) == [Status.DANGLING]


def test_local_connection_facts_are_unverified_for_want_of_a_publisher(rendered):
    local = installed(rendered, "local")
    references = list(wiring.connection_facts(local))
    temporal = [item for item in references if item.source.startswith("release/local/temporal#")]
    assert len(temporal) == 2
    assert {item.status for item in temporal} <= {Status.UNVERIFIED}


def test_an_open_row_whose_reference_resolves_is_stale(rendered, tmp_path):
    live = installed(rendered, "live")
    reference = first(wiring.service_accounts(live), Status.RESOLVED)  # our charts', cached or not
    row = {"rule": "service-accounts", "environments": ["live"], "source": reference.source,
           "target": reference.target, "reason": "dangled once, fixed since then",
           "expires": "2099-01-01"}  # fmt: skip
    (tmp_path / "open.yaml").write_text(yaml.safe_dump({"defects": [row]}))
    report = wiring.mark_open(
        wiring.check(live), wiring.load_open(tmp_path / "open.yaml"), date(2026, 11, 23)
    )
    assert report.stale_rows == [f"service-accounts: {reference.source} -> {reference.target}"]
    assert not report.passed


def test_a_media_port_the_cloud_firewall_does_not_open_dangles(rendered, monkeypatch):
    for name, cloud in (("live", Cloud.AWS), ("production", Cloud.LINODE)):
        result = installed(rendered, name)
        sip = [item for item in wiring.entry_ports(result) if "sip-service-server" in item.source]
        public_nodes = {"nodes with public addresses"} if cloud is Cloud.AWS else set()
        assert {item.target for item in sip} == {"UDP 5060", "TCP 5060", "UDP 10000-20000"} | public_nodes
        assert {item.status for item in sip} == {Status.RESOLVED}
        # the RTP range moved outside what the stack opens
        server = next(item for item in result.pods() if item[0]["metadata"]["name"] == "sip-service-server")[
            0
        ]
        env = server["spec"]["template"]["spec"]["containers"][0]["env"]
        body = next(item for item in env if item["name"] == "SIP_CONFIG_BODY")
        body["value"] = body["value"].replace("rtp_port: 10000-20000", "rtp_port: 30000-40000")
        moved = [item for item in wiring.entry_ports(result) if item.target == "UDP 30000-40000"]
        assert [item.status for item in moved] == [Status.DANGLING], cloud
    # the Azure NSG without its SIP rule, as it was
    openings = [item for item in wiring.public_openings(Cloud.AZURE) if item.first != 5060]
    monkeypatch.setattr(wiring, "public_openings", lambda _cloud: openings)
    sip = [item for item in wiring.entry_ports(installed(rendered, "live")) if item.target.endswith(" 5060")]
    assert {item.status for item in sip} == {Status.DANGLING}


def entry(references, source):
    return next(item for item in references if item.source == source)


def test_every_public_route_reaches_its_service_and_each_broken_hop_dangles(rendered):
    live = with_upstream(installed(rendered, "live"), kong, livekit_server)
    references = list(wiring.entry_paths(live))
    routes = [item for item in references if item.source.startswith("dns/")]
    hosts = {item.source.removeprefix("dns/") for item in routes}
    assert hosts == {f"{name}.live.voiceops.example" for name in ("api", "graphql", "livekit")}
    assert {item.status for item in references} == {Status.RESOLVED}
    api = "dns/api.live.voiceops.example"

    # the ALB reaches Kong's pods only through the policy the base chart adds for it
    closed = copy.deepcopy(live)
    closed.cluster = without(closed.cluster, "NetworkPolicy", "allow-load-balancer-to-gateway")
    broken = entry(wiring.entry_paths(closed), api)
    assert broken.status is Status.DANGLING and "deny port 8000 from outside the cluster" in broken.detail

    # Kong's own Ingress is the hop from the gateway to the API
    no_gateway_route = copy.deepcopy(live)
    no_gateway_route.cluster = without(no_gateway_route.cluster, "Ingress", "api-rest-gateway")
    broken = entry(wiring.entry_paths(no_gateway_route), api)
    assert broken.status is Status.DANGLING and "no Ingress routes" in broken.detail

    # the public Ingress points at a port the gateway's Service does not serve
    wrong_port = copy.deepcopy(live)
    public = next(
        item
        for item in wrong_port.cluster
        if item["kind"] == "Ingress" and item["metadata"]["name"] == "api-rest"
    )
    public["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"] = 8080
    broken = entry(wiring.entry_paths(wrong_port), api)
    assert broken.status is Status.DANGLING and "kong-kong-proxy:8080" in broken.detail


def test_the_load_balancer_is_found_by_the_tag_the_chart_gives_it(rendered):
    live = installed(rendered, "live")
    source = "modules/aws/platform data.aws_lbs.ingress"
    assert entry(wiring.entry_paths(live), source).status is Status.RESOLVED
    params = next(item for item in live.cluster if item["kind"] == "IngressClassParams")
    params["spec"]["tags"] = [{"key": "voiceops.io/entry", "value": "some-other-cluster"}]
    assert entry(wiring.entry_paths(live), source).status is Status.DANGLING


def test_a_front_given_a_value_by_hand_dangles(rendered, monkeypatch):
    live = installed(rendered, "live")
    real = wiring.infra_policy.module_value

    def by_hand(module, address, attribute, tree=None):
        if (address, attribute) == ("module.edge", "origin_domain_name"):
            return "var.ingress_alb_dns_name"
        return real(module, address, attribute, tree)

    monkeypatch.setattr(wiring.infra_policy, "module_value", by_hand)
    origin = entry(wiring.entry_paths(live), "modules/aws/platform module.edge.origin_domain_name")
    assert origin.status is Status.DANGLING and "is not taken from it" in origin.detail


def test_the_load_balancer_the_stack_creates_is_adopted_with_the_ports_it_forwards(rendered):
    production = with_upstream(installed(rendered, "production"), ingress_nginx)
    source = "fact/ingress-nodebalancer-id"
    adopted = entry(wiring.entry_paths(production), source)
    assert adopted.status is Status.RESOLVED and adopted.target == "Service/system/ingress-nginx-controller"

    controller = next(
        item for item in production.cluster
        if item["kind"] == "Service" and item["metadata"]["name"] == "ingress-nginx-controller"
    )  # fmt: skip
    controller["spec"]["ports"] = [port for port in controller["spec"]["ports"] if port["port"] != 443]
    broken = entry(wiring.entry_paths(production), source)
    assert broken.status is Status.DANGLING and "forwards port 443" in broken.detail

    controller["metadata"]["annotations"] = {}
    assert entry(wiring.entry_paths(production), source).target == "a LoadBalancer Service"
    assert entry(wiring.entry_paths(production), source).status is Status.DANGLING


def test_azure_load_balancer_ports_need_the_subnet_nsg(rendered, monkeypatch):
    live = with_upstream(installed(rendered, "live"), livekit_server)
    live.environment = live.environment.model_copy(update={"cloud": Cloud.AZURE})
    turn = [item for item in wiring.load_balancer_ports(live) if "livekit-server-turn" in item.source]
    assert [(item.target, item.status) for item in turn] == [("TCP 443", Status.RESOLVED)]
    real = wiring.public_openings

    def without_turn(cloud, sources=wiring.INTERNET_SOURCES):
        return [item for item in real(cloud, sources) if item.first != 443]

    monkeypatch.setattr(wiring, "public_openings", without_turn)
    turn = [item for item in wiring.load_balancer_ports(live) if "livekit-server-turn" in item.source]
    assert [item.status for item in turn] == [Status.DANGLING]


def test_media_servers_must_land_on_nodes_with_public_addresses(rendered):
    live = with_upstream(installed(rendered, "live"), livekit_server)
    server = next(item for item, _spec in live.pods() if item["metadata"]["name"] == "livekit-server")
    source = wiring.ref(server)
    assert statuses(wiring.entry_ports(live), source=source, target="nodes with public addresses") == [
        Status.RESOLVED
    ]
    # without its node selector it may run on the private pools, where nobody reaches its ports
    del server["spec"]["template"]["spec"]["nodeSelector"]
    moved = [
        item for item in wiring.entry_ports(live) if item.source == source and item.target.startswith("nodes")
    ]
    assert [item.status for item in moved] == [Status.DANGLING]
    assert "general" in moved[0].detail


def test_a_node_port_nobody_opens_dangles(rendered, monkeypatch):
    live = installed(rendered, "live")
    service = copy.deepcopy(next(item for item in live.manifests if item["kind"] == "Service"))
    service["metadata"]["name"] = "exposed"
    service["spec"] = {"type": "NodePort", "ports": [{"port": 80, "nodePort": 31080, "protocol": "TCP"}]}
    live.manifests = [*live.manifests, service]
    source = wiring.ref(service)
    assert statuses(wiring.node_ports(live), source=source) == [Status.DANGLING]
    opened = [*wiring.public_openings(Cloud.AWS), wiring.PortRange("TCP", 31080, 31080)]
    monkeypatch.setattr(wiring, "public_openings", lambda _cloud, sources=None: opened)
    assert statuses(wiring.node_ports(live), source=source) == [Status.RESOLVED]


def test_every_secret_comes_from_a_bundle_and_dangles_without_its_entry(rendered, monkeypatch):
    live = installed(rendered, "live")
    source = "Deployment/platform/platform-api-rest"
    [reference] = [item for item in wiring.secrets(live) if item.source == source]
    assert (
        reference.status is Status.RESOLVED
        and reference.detail == "ExternalSecret/platform/api-rest-credentials"
    )
    # the bundle entry removed: the base chart renders no ExternalSecret, and nothing declares it
    live.cluster = without(live.cluster, "ExternalSecret", "api-rest-credentials")
    real = secret_bundles.for_environment
    monkeypatch.setattr(
        secret_bundles, "for_environment",
        lambda environment, directory=None: [item for item in real(environment, directory)
                                             if item.name != "api-rest-credentials"],
    )  # fmt: skip
    [reference] = [item for item in wiring.secrets(live) if item.source == source]
    assert reference.status is Status.DANGLING and "no bundle" in reference.detail


def test_a_sealed_secret_not_provisioned_yet_is_unproduced_and_named(rendered):
    production = installed(rendered, "production")
    tunnel = [item for item in wiring.secrets(production) if item.target == "Secret/cloudflared-tunnel"]
    assert [item.status for item in tunnel] == [Status.UNPRODUCED]
    assert (
        "invoke secrets.seal --env production --bundle edge --secret cloudflared-tunnel" in tunnel[0].detail
    )


def test_alertmanager_receivers_are_a_secret_reference(rendered):
    local = installed(rendered, "local")
    local.manifests = [*local.manifests, {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
        "metadata": {"name": "main", "namespace": "observability"},
        "spec": {"secrets": ["alertmanager-receivers", "nosuch"]},
    }]  # fmt: skip
    found = {
        item.target: item.status for item in wiring.secrets(local) if item.source.startswith("Alertmanager/")
    }
    assert found == {"Secret/alertmanager-receivers": Status.RESOLVED, "Secret/nosuch": Status.DANGLING}


def test_a_bundle_secret_read_into_environment_variables_needs_its_reason(rendered):
    live = installed(rendered, "live")
    worker = next(item for item, _spec in live.pods() if item["metadata"]["name"] == "agent-service-worker")
    source = wiring.ref(worker)
    assert statuses(wiring.secrets(live), source=source, target="Secret/agent-service-credentials") == [
        Status.RESOLVED
    ]
    container = worker["spec"]["template"]["spec"]["containers"][0]
    container.setdefault("envFrom", []).append({"secretRef": {"name": "agent-service-credentials"}})
    target = "Secret/agent-service-credentials"
    [reference] = [item for item in wiring.secrets(live) if item.source == source and item.target == target]
    assert reference.status is Status.DANGLING and "mount it as files" in reference.detail


def test_a_reader_of_a_rotated_secret_dangles_without_its_annotation_or_a_reloader(rendered):
    live = installed(rendered, "live")
    source, target = "Deployment/platform/platform-api-rest", "Secret/api-rest-credentials"
    assert statuses(wiring.reloads(live), source=source, target=target) == [Status.RESOLVED]
    deployment = next(item for item in live.manifests if wiring.ref(item) == source)
    annotations = deployment["metadata"]["annotations"]
    del annotations[wiring.RELOAD_ANNOTATION]
    [reference] = [item for item in wiring.reloads(live) if item.source == source]
    assert reference.status is Status.DANGLING and wiring.RELOAD_ANNOTATION in reference.detail
    pod = deployment["spec"]["template"]["metadata"]
    pod.setdefault("annotations", {})[wiring.RELOAD_ANNOTATION] = "api-rest-credentials"
    assert statuses(wiring.reloads(live), source=source, target=target) == [Status.RESOLVED]
    annotations[wiring.RELOAD_ANNOTATION] = "another-secret"  # the Deployment's own ones win
    assert statuses(wiring.reloads(live), source=source, target=target) == [Status.DANGLING]
    annotations["reloader.stakater.com/auto"] = "true"  # every Secret it reads
    assert statuses(wiring.reloads(live), source=source, target=target) == [Status.RESOLVED]
    live.releases = [release for release in live.releases if release.name != wiring.RELOADER]
    [reference] = [item for item in wiring.reloads(live) if item.source == source]
    assert reference.status is Status.DANGLING and "no reloader release" in reference.detail
    # a CronJob's runs mount the current Secret: nothing to roll, no Reloader needed
    rollup = "CronJob/platform/platform-analytics-rollup"
    assert statuses(wiring.reloads(live), source=rollup) == [Status.RESOLVED]


def test_a_tenant_is_rolled_by_its_cluster_owners_reloader_in_the_namespaces_it_selects(rendered):
    staging = installed(rendered, "staging")
    assert wiring.RELOADER not in {release.name for release in staging.releases}
    source = "Deployment/staging/platform-api-rest"
    assert statuses(wiring.reloads(staging), source=source) == [Status.RESOLVED]
    namespace = next(
        item
        for item in staging.cluster
        if item["kind"] == "Namespace" and item["metadata"]["name"] == "staging"
    )
    del namespace["metadata"]["labels"]["app.kubernetes.io/part-of"]
    [reference] = [item for item in wiring.reloads(staging) if item.source == source]
    assert reference.status is Status.DANGLING and "namespaceSelector" in reference.detail


def test_a_reader_only_an_uncached_chart_renders_is_unverified_not_dangling(rendered):
    live = installed(rendered, "live", cached=False)
    live.rendered_text["rabbitmq"] = None  # as the gate sees it without the chart cache
    live.manifests = [item for item in live.manifests if item["metadata"].get("name") != "rabbitmq"]
    source, target = "workload/platform/rabbitmq", "Secret/rabbitmq-definitions"
    live.unverified_namespaces = frozenset({"platform"})
    assert statuses(wiring.reloads(live), source=source, target=target) == [Status.UNVERIFIED]
    live.unverified_namespaces = frozenset()  # cached, and still nothing renders it
    assert statuses(wiring.reloads(live), source=source, target=target) == [Status.DANGLING]


def test_an_alertmanager_needs_no_roll_for_the_secrets_its_operator_watches(rendered):
    live = installed(rendered, "live")
    live.rendered_text["kube-prometheus-stack"] = ""
    live.manifests = [*(item for item in live.manifests if item["kind"] != "Alertmanager"), {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
        "metadata": {"name": "kube-prometheus-stack-alertmanager", "namespace": "observability"},
        "spec": {"secrets": ["alertmanager-receivers"]},
    }]  # fmt: skip
    source = "workload/observability/alertmanager-kube-prometheus-stack-alertmanager"
    assert statuses(wiring.reloads(live), source=source) == [Status.RESOLVED]
    live.manifests[-1]["spec"]["secrets"] = []
    assert statuses(wiring.reloads(live), source=source) == [Status.DANGLING]
