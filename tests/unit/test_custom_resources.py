"""Custom resources against the CRDs rendered with them, and objects placed as Helm installs them."""

import yaml

from voiceops import catalog, environments, policy, render

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "backuplocations.example.io"},
    "spec": {
        "group": "example.io",
        "scope": "Namespaced",
        "names": {"kind": "BackupLocation", "plural": "backuplocations"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                "type": "object", "required": ["provider"],
                "properties": {"provider": {"type": "string"}, "config": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }}}},
        }],
    },
}  # fmt: skip


def location(spec):
    return {
        "apiVersion": "example.io/v1",
        "kind": "BackupLocation",
        "metadata": {"name": "default"},
        "spec": spec,
    }


def test_a_custom_resource_is_checked_against_its_crd():
    good = location({"provider": "aws", "config": {"anything": "goes here"}})
    report = policy.validate_schemas([CRD, good], "1.35.0")
    assert report.errors == [] and report.custom_validated == 1 and report.custom_resources == {}


def test_a_wrong_type_a_missing_field_and_an_unknown_field_each_fail():
    bad = [location({"provider": None}), location({}), location({"provider": "aws", "bukcet": "x"})]
    report = policy.validate_schemas([CRD, *bad], "1.35.0")
    assert len(report.errors) == 3
    assert "None is not of type 'string' at spec.provider" in report.errors[0]
    assert "'provider' is a required property" in report.errors[1]
    assert "'bukcet' was unexpected" in report.errors[2]


def test_a_custom_resource_without_a_rendered_crd_is_counted_apart():
    report = policy.validate_schemas([location({"provider": "aws"})], "1.35.0")
    assert report.custom_validated == 0 and report.custom_resources == {"example.io/v1/BackupLocation": 1}


def test_objects_without_a_namespace_land_in_the_release_namespace_unless_cluster_scoped():
    cluster_crd = {**CRD, "spec": {**CRD["spec"], "scope": "Cluster"}}
    text = "".join(
        "---\n" + yaml.safe_dump(document)
        for document in (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "elsewhere"}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c"}},
            cluster_crd,
            location({"provider": "aws"}),
        )
    )
    placed = render.load_manifests(render.in_release_namespace(text, "system", render.CustomKinds()))
    assert [document["metadata"].get("namespace") for document in placed] == [
        "system", "elsewhere", None, None, None,
    ]  # fmt: skip
    untouched = "---\n" + yaml.safe_dump(placed[1])
    assert render.in_release_namespace(untouched, "system", render.CustomKinds()) == untouched


def test_earlier_waves_crds_become_api_versions():
    kinds = render.CustomKinds().adding("---\n" + yaml.safe_dump(CRD))
    assert kinds.api_versions == {"example.io/v1", "example.io/v1/BackupLocation"}
    assert kinds.cluster_scoped == frozenset()


def test_a_built_in_api_version_the_cluster_no_longer_serves_is_an_error():
    removed = {
        "apiVersion": "apiregistration.k8s.io/v1beta1", "kind": "APIService",
        "metadata": {"name": "v1beta1.custom.metrics.k8s.io"},
        "spec": {"group": "custom.metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                 "versionPriority": 100,
                 "service": {"name": "prometheus-adapter", "namespace": "observability"}},
    }  # fmt: skip
    report = policy.validate_schemas([removed], "1.35.0")
    assert report.errors == [
        "APIService/v1beta1.custom.metrics.k8s.io: apiregistration.k8s.io/v1beta1/APIService is not served "
        "by Kubernetes 1.35.0"
    ]
    served = policy.validate_schemas([{**removed, "apiVersion": "apiregistration.k8s.io/v1"}], "1.35.0")
    assert served.errors == [] and served.validated == 1


def test_helm_is_told_the_built_in_apis_it_does_not_report_itself():
    live = environments.load("live")
    release = next(item for item in catalog.releases_for(live) if item.name == "platform")
    command = render.template_command(live, release, "chart")
    assert "apiregistration.k8s.io/v1" in command


def test_a_shared_clusters_custom_resources_are_checked_against_the_owners_crds():
    """development's ServiceMonitors meet the CRDs production's render installs in their cluster."""
    alone = policy.validate_schemas([location({"provider": "aws"})], "1.35.0")
    assert alone.custom_resources and alone.custom_validated == 0
    shared = policy.validate_schemas([location({"provider": 7})], "1.35.0", cluster_crds=[CRD])
    assert shared.custom_validated == 1 and shared.errors and not shared.custom_resources
