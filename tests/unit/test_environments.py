"""The environment registry: every file valid, seed facts kept, bad input named precisely."""

import textwrap

import pytest

from voiceops import environments
from voiceops.environments import InvalidEnvironment, UnknownEnvironment, parse_file

EXPECTED = {"local", "sandbox", "live", "development", "staging", "production", "azure-production", "preview"}


@pytest.fixture
def registry():
    return {environment.name: environment for environment in environments.load_all()}


def test_registry_holds_exactly_the_seed_environments(registry):
    assert set(registry) == EXPECTED


def test_production_class_environments_need_two_approvals(registry):
    production_class = {name for name, env in registry.items() if env.production_class}
    assert production_class == {"live", "production", "azure-production"}
    for name in production_class:
        assert registry[name].approvals.required == 2, name
        assert registry[name].approvals.github_environment


@pytest.mark.parametrize(
    ("name", "rto", "rpo"),
    [
        ("azure-production", 3600, 300),
        ("live", 14400, 900),
        ("sandbox", 14400, 900),
        ("production", 14400, 86400),
        ("local", 120, 5),  # measured by the local drills, in seconds
    ],
)
def test_disaster_recovery_targets_come_from_the_seeds_and_local_in_seconds(registry, name, rto, rpo):
    recovery = registry[name].disaster_recovery
    assert (recovery.rto_seconds, recovery.rpo_seconds) == (rto, rpo)


def test_aws_live_network_is_seed_003_layout(registry):
    network = registry["live"].network
    assert network.cidr == "10.0.0.0/16"
    assert network.subnets["public"] == ("10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24")
    assert network.subnets["private"] == ("10.0.10.0/24", "10.0.20.0/24", "10.0.30.0/24")
    assert registry["live"].regions.disaster_recovery == "us-east-1"


def test_aks_node_pools_and_taints_follow_seed_004(registry):
    pools = {pool.name: pool for pool in registry["azure-production"].cluster.node_pools}
    assert {name: (p.instance_type, p.min_nodes, p.max_nodes) for name, p in pools.items()} == {
        "system": ("Standard_D4s_v3", 2, 4),
        "livekit": ("Standard_D8s_v3", 2, 10),
        "agents": ("Standard_D4s_v3", 4, 20),
        "api": ("Standard_D4s_v3", 2, 10),
    }
    assert pools["livekit"].taints == ("livekit=true:NoSchedule",)
    assert pools["agents"].taints == ("agents=true:NoSchedule",)


def test_lke_environments_share_one_cluster_owned_by_production(registry):
    pools = {pool.name: pool for pool in registry["production"].cluster.node_pools}
    assert (pools["baseline"].instance_type, pools["baseline"].min_nodes, pools["baseline"].max_nodes) == (
        "g6-standard-8",
        3,
        10,
    )
    assert (pools["gpu"].instance_type, pools["gpu"].min_nodes, pools["gpu"].autoscaling) == (
        "g1-gpu-rtx6000-1",
        2,
        False,
    )
    for name in ("development", "staging"):
        assert registry[name].cluster.shared_with == ("production",)
        assert environments.cluster_owner(registry[name]).name == "production"


def test_lke_pod_autoscaling_follows_seed_002(registry):
    for name in ("development", "staging", "production"):
        scaling = registry[name].autoscaling
        assert (scaling.min_replicas, scaling.max_replicas) == (2, 10)
        assert (scaling.cpu_target_percent, scaling.memory_target_percent) == (70, 80)


def test_unknown_environment_names_the_valid_ones():
    with pytest.raises(UnknownEnvironment) as caught:
        environments.load("nosuch")
    assert "unknown environment 'nosuch'" in str(caught.value)
    assert "azure-production" in str(caught.value)
    assert "\n" not in str(caught.value)


def write(tmp_path, name, body):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def base_document(name="demo", **overrides):
    document = {
        "name": name,
        "description": "test",
        "cloud": "local",
        "production_class": False,
        "delivery": "helm",
        "regions": {"primary": "local"},
        "cluster": {"name": "kind-demo", "kubernetes_version": "1.35"},
        "namespaces": {"platform": "platform"},
        "helm": {"values_layers": ["charts/values/common.yaml"]},
        "approvals": {"required": 0},
        "autoscaling": {
            "min_replicas": 1,
            "max_replicas": 2,
            "cpu_target_percent": 70,
            "memory_target_percent": 80,
        },
    }
    document.update(overrides)
    return document


def dump(tmp_path, document):
    import yaml

    path = tmp_path / f"{document['name']}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_minimal_document_is_valid(tmp_path):
    assert parse_file(dump(tmp_path, base_document())).name == "demo"


def test_unknown_key_names_file_and_field(tmp_path):
    document = base_document()
    document["cluster"]["kubernetes_verison"] = "1.35"
    with pytest.raises(InvalidEnvironment) as caught:
        parse_file(dump(tmp_path, document))
    assert "demo.yaml" in str(caught.value)
    assert "cluster.kubernetes_verison: unknown field" in str(caught.value)


def test_mistyped_value_names_the_field(tmp_path):
    document = base_document(approvals={"required": "two"})
    with pytest.raises(InvalidEnvironment, match=r"demo\.yaml: approvals\.required"):
        parse_file(dump(tmp_path, document))


def test_production_class_with_one_approval_is_rejected(tmp_path):
    document = base_document(production_class=True, approvals={"required": 1, "github_environment": "demo"})
    with pytest.raises(InvalidEnvironment, match=r"approvals\.required >= 2"):
        parse_file(dump(tmp_path, document))


def test_seed_004_subnets_outside_the_address_space_are_rejected(tmp_path):
    document = base_document(
        network={"cidr": "10.0.0.0/16", "subnets": {"aks": ["10.0.0.0/20"], "db": ["10.1.0.0/24"]}}
    )
    with pytest.raises(InvalidEnvironment, match=r"subnet db 10\.1\.0\.0/24 lies outside 10\.0\.0\.0/16"):
        parse_file(dump(tmp_path, document))


def test_overlapping_subnets_are_rejected(tmp_path):
    document = base_document(
        network={"cidr": "10.0.0.0/16", "subnets": {"aks": ["10.0.0.0/20"], "db": ["10.0.1.0/24"]}}
    )
    with pytest.raises(InvalidEnvironment, match="overlaps aks"):
        parse_file(dump(tmp_path, document))


def test_node_pool_bounds_must_be_ordered(tmp_path):
    document = base_document(
        cluster={
            "name": "kind-demo",
            "kubernetes_version": "1.35",
            "node_pools": [{"name": "pool", "instance_type": "t", "min_nodes": 5, "max_nodes": 2}],
        }
    )
    with pytest.raises(InvalidEnvironment, match=r"cluster\.node_pools\.0: .*exceeds max_nodes"):
        parse_file(dump(tmp_path, document))


def test_name_must_match_the_file(tmp_path):
    path = dump(tmp_path, base_document())
    renamed = path.with_name("other.yaml")
    path.rename(renamed)
    with pytest.raises(InvalidEnvironment, match="differs from the file name"):
        parse_file(renamed)


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text("name: demo\ncluster: [unclosed\n")
    with pytest.raises(InvalidEnvironment, match=r"demo\.yaml: line 3: expected ',' or ']'"):
        parse_file(path)


def test_a_key_given_twice_is_an_error_naming_file_and_lines(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text("name: demo\ncloud: aws\ndescription: x\ncloud: azure\n")
    with pytest.raises(
        InvalidEnvironment, match=r"demo\.yaml: line 4: duplicate key 'cloud' \(first on line 2\)"
    ):
        parse_file(path)


def test_shared_cluster_must_be_owned_by_a_known_environment(tmp_path):
    owner = base_document("owner")
    tenant = base_document("tenant")
    tenant["cluster"] = {"name": "kind-demo", "kubernetes_version": "1.35", "shared_with": ["nobody"]}
    dump(tmp_path, owner)
    dump(tmp_path, tenant)
    with pytest.raises(InvalidEnvironment, match="names unknown environment 'nobody'"):
        environments.load_all(tmp_path)


def test_livekit_namespace_may_not_host_another_role(tmp_path):
    # host networking needs the privileged Pod Security level; restricted workloads stay apart
    path = dump(tmp_path, base_document(namespaces={"platform": "apps", "livekit": "apps"}))
    with pytest.raises(environments.InvalidEnvironment, match="livekit namespace 'apps'"):
        environments.parse_file(path)


def test_unknown_namespace_role_is_rejected(tmp_path):
    path = dump(tmp_path, base_document(namespaces={"platform": "apps", "databases": "db"}))
    with pytest.raises(environments.InvalidEnvironment, match="namespaces"):
        environments.parse_file(path)


def registry_document(name):
    import yaml

    return yaml.safe_load((environments.ENVIRONMENTS_DIR / f"{name}.yaml").read_text())


@pytest.mark.parametrize(
    ("cidr", "reason"),
    [
        ("0.0.0.0/0", "admits every address"),
        ("192.0.2.0/24", "documentation range"),
        ("203.0.113.7/32", "documentation range"),
        ("2001:db8::/48", "documentation range"),
        ("10.20.0.0/16", "not a public address"),
        ("198.51.100.0/25", "documentation range"),
        ("not-a-cidr", "does not appear to be an IPv4 or IPv6 network"),
    ],
)
def test_api_access_admits_only_chosen_public_sources(tmp_path, cidr, reason):
    document = registry_document("sandbox")
    document["cluster"]["api_access"]["allowed_cidrs"] = [cidr]
    with pytest.raises(InvalidEnvironment, match=reason):
        parse_file(dump(tmp_path, document))
    document["cluster"]["api_access"]["allowed_cidrs"] = ["18.200.0.0/28"]
    assert parse_file(dump(tmp_path, document)).cluster.api_access.allowed_cidrs == ("18.200.0.0/28",)


def test_delivery_reaches_clusters_only_from_self_hosted_runners(tmp_path, registry):
    document = registry_document("live")
    document["cluster"]["api_access"]["runner_labels"] = ["ubuntu-24.04"]
    with pytest.raises(InvalidEnvironment, match="self-hosted"):
        parse_file(dump(tmp_path, document))
    del document["cluster"]["api_access"]
    with pytest.raises(InvalidEnvironment, match="says how delivery reaches it"):
        parse_file(dump(tmp_path, document))
    tenant = registry_document("staging")
    tenant["cluster"]["api_access"] = {"runner_labels": ["self-hosted"]}
    with pytest.raises(InvalidEnvironment, match="belongs to the cluster's owner"):
        parse_file(dump(tmp_path, tenant))
    # every environment a workflow delivers runs on its cluster owner's runners
    runners = environments.delivery_runners()
    assert set(runners) == set(registry) - {"local"}
    assert runners["staging"] == runners["production"] == ["self-hosted", "linux", "lke-voiceops"]
    assert all("self-hosted" in labels for labels in runners.values())


def test_public_routes_need_a_zone_a_namespace_and_distinct_hosts(tmp_path):
    document = registry_document("live")
    assert [route.host for route in parse_file(dump(tmp_path, document)).ingress.routes] == [
        "api", "graphql", "livekit",
    ]  # fmt: skip
    routes = document["ingress"]["routes"]
    routes[1]["host"] = "api"
    with pytest.raises(InvalidEnvironment, match="route hosts repeat: api"):
        parse_file(dump(tmp_path, document))
    routes[1]["host"] = "graphql"
    routes[1]["role"] = "observability"
    del document["namespaces"]["observability"]
    with pytest.raises(InvalidEnvironment, match="api-graphql: no observability namespace"):
        parse_file(dump(tmp_path, document))
    routes[1]["host"] = "Graphql_"
    with pytest.raises(InvalidEnvironment, match=r"ingress\.routes\.1\.host"):
        parse_file(dump(tmp_path, document))
    tenant = registry_document("staging")
    tenant["ingress"] = {"routes": [routes[0]]}
    with pytest.raises(InvalidEnvironment, match="public routes need a dns_zone"):
        parse_file(dump(tmp_path, tenant))
