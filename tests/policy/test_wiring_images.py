"""The images rule against real rendered environments: every image resolves to an upstream pin or
to an image the services' CI builds, and dangles once its tag, its name or its build is taken away."""

import copy
from dataclasses import replace

import pytest
import yaml

from voiceops import environments, infra_policy, render, wiring
from voiceops.wiring import Status

API_REST = "Deployment/platform/platform-api-rest"
CLOUDFLARED = "Deployment/staging/platform-cloudflared"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("wiring-images")
    targets = [environments.load(name) for name in ("local", "staging")]
    return {item.environment: item for item in render.render_all(targets, out_dir=out)}


def installed(rendered, name):
    result, _unverified = wiring.installed_from(environments.load(name), rendered)
    return copy.deepcopy(result)


def workload(installed_env, source):
    return next(item for item in installed_env.manifests if wiring.ref(item) == source)


def only(references, source):
    [reference] = [item for item in references if item.source == source]
    return reference


def set_image(manifest, image):
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = image


def test_upstream_images_are_pinned_and_the_platform_services_images_built(rendered):
    upstream = [item for item in wiring.images(installed(rendered, "staging"))
                if not item.target.startswith("ghcr.io/voiceops/")]  # fmt: skip
    assert upstream and {item.status for item in upstream} == {Status.RESOLVED}
    services = [item for item in wiring.images(installed(rendered, "local"))
                if item.source.startswith("Deployment/platform/platform-")]  # fmt: skip
    assert API_REST in {item.source for item in services}
    assert {item.status for item in services} == {Status.RESOLVED}


def test_the_open_rows_of_the_rule_are_exactly_the_images_that_dangle(rendered):
    rows = yaml.safe_load(wiring.OPEN_PATH.read_text())["defects"]
    for name in ("local", "staging"):
        references = wiring.images(installed(rendered, name))
        found = {(item.source, item.target): item.status for item in references}
        open_rows = [(row["source"], row["target"]) for row in rows
                     if row["rule"] == "images" and name in row["environments"]]  # fmt: skip
        dangling = {key for key, status in found.items() if status is Status.DANGLING}
        assert dangling <= set(open_rows), f"{name}: images that dangle with no open row: {dangling}"
        for key in open_rows:
            assert found.get(key) is Status.DANGLING, f"{name}: {key} no longer dangles, its row goes"


@pytest.mark.parametrize("pin", ["", ":latest"])
def test_an_upstream_image_without_a_tag_or_with_latest_dangles(rendered, pin):
    staging = installed(rendered, "staging")
    cloudflared = workload(staging, CLOUDFLARED)
    image = cloudflared["spec"]["template"]["spec"]["containers"][0]["image"]
    assert only(wiring.images(staging), CLOUDFLARED).status is Status.RESOLVED
    set_image(cloudflared, image.rsplit(":", 1)[0] + pin)
    reference = only(wiring.images(staging), CLOUDFLARED)
    assert reference.status is Status.DANGLING and "pulls whatever the registry holds" in reference.detail
    set_image(cloudflared, image.rsplit(":", 1)[0] + "@sha256:" + "0" * 64)
    assert only(wiring.images(staging), CLOUDFLARED).status is Status.RESOLVED


def test_an_image_of_ours_tagged_latest_dangles_though_it_is_built(rendered):
    local = installed(rendered, "local")
    set_image(workload(local, API_REST), "ghcr.io/voiceops/api-rest:latest")
    assert only(wiring.images(local), API_REST).status is Status.DANGLING


def test_an_image_of_ours_nothing_builds_dangles(rendered):
    local = installed(rendered, "local")
    set_image(workload(local, API_REST), "ghcr.io/voiceops/api-rest-v2:1.0.0")
    reference = only(wiring.images(local), API_REST)
    assert reference.status is Status.DANGLING and reference.detail.startswith("nothing builds api-rest-v2")


def test_an_image_dangles_once_the_stack_no_longer_declares_its_build(rendered, monkeypatch):
    local = installed(rendered, "local")
    declared = infra_policy.module_value

    def without_api_rest(module, address, attribute, tree=None):
        value = declared(module, address, attribute, tree)
        return [item for item in value if item != "api-rest"] if address == "module.ecr" else value

    monkeypatch.setattr(infra_policy, "module_value", without_api_rest)
    assert only(wiring.images(local), API_REST).status is Status.DANGLING


def test_the_registry_of_ours_is_the_one_the_values_give(rendered, tmp_path):
    local = installed(rendered, "local")
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/voiceops-local"
    layer = tmp_path / "platform.yaml"
    layer.write_text(yaml.safe_dump({"imageRegistry": registry}))
    local.releases = [
        replace(release, values_files=(*release.values_files, layer)) if release.chart.local else release
        for release in local.releases
    ]
    api_rest = workload(local, API_REST)
    set_image(api_rest, f"{registry}/api-rest:1.0.0")
    assert only(wiring.images(local), API_REST).status is Status.RESOLVED
    set_image(api_rest, f"{registry}/api-rest-v2:1.0.0")
    assert only(wiring.images(local), API_REST).status is Status.DANGLING
    set_image(api_rest, "ghcr.io/voiceops/api-rest-v2:1.0.0")  # no longer ours: an upstream pin
    assert only(wiring.images(local), API_REST).status is Status.RESOLVED


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("ghcr.io/voiceops/api-rest:1.0.0", ("ghcr.io/voiceops/api-rest", "1.0.0", "")),
        ("localhost:5000/tools/kubectl", ("localhost:5000/tools/kubectl", "", "")),
        ("kong:3.9", ("kong", "3.9", "")),
        ("registry.k8s.io/a/b:v1@sha256:ab", ("registry.k8s.io/a/b", "v1", "sha256:ab")),
    ],
)
def test_an_image_reference_splits_into_name_tag_and_digest(image, parts):
    assert wiring.split_image(image) == parts
