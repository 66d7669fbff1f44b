"""Velero's backup locations against what the stacks provide, read from the repository, and
each way a location can fail to be provided."""

import copy

import pytest

from voiceops import backups, catalog, environments, infra_policy, wiring

INSTALLS_VELERO = {"live", "sandbox", "azure-production", "production"}


def problems(name: str) -> dict[str, str]:
    return {item.target: item.problem for item in backups.check(environments.load(name)) if not item.ok}


def with_values(monkeypatch, change) -> None:
    """The release's merged values, changed the way one environment's file could be."""
    merged = catalog.merged_values

    def changed(release, defaults=None):
        values = copy.deepcopy(merged(release, defaults))
        if release.name == backups.RELEASE:
            change(values)
        return values

    monkeypatch.setattr(catalog, "merged_values", changed)


def location(values: dict) -> dict:
    return values["configuration"]["backupStorageLocation"][0]


def test_every_environment_installing_velero_has_a_provided_location():
    checked = {item.name for item in environments.load_all() if backups.check(item)}
    assert checked == INSTALLS_VELERO
    for name in INSTALLS_VELERO:
        assert problems(name) == {}, name


@pytest.mark.parametrize("name", sorted(INSTALLS_VELERO))
def test_a_location_without_its_plugin_is_not_provided(monkeypatch, name):
    with_values(monkeypatch, lambda values: values.pop("initContainers"))
    assert any(target.startswith("plugin ") for target in problems(name))


def test_no_default_location_or_two_of_them(monkeypatch):
    with_values(monkeypatch, lambda values: values["configuration"].update(backupStorageLocation=[]))
    assert problems("live") == {"a default backup location": "0 default location(s) in the values"}
    monkeypatch.undo()
    with_values(monkeypatch, lambda values: values["configuration"]["backupStorageLocation"].append(
        dict(location(values), name="second")))  # fmt: skip
    assert problems("sandbox") == {"a default backup location": "2 default location(s) in the values"}


def test_a_location_no_schedule_backs_up_to(monkeypatch):
    with_values(monkeypatch, lambda values: location(values).update(name="elsewhere"))
    assert problems("azure-production") == {
        "a schedule backing up to elsewhere": "no schedule names the location"
    }


def test_an_aws_location_in_another_region_or_with_another_release_policy(monkeypatch):
    with_values(monkeypatch, lambda values: location(values)["config"].update(region="eu-west-1"))
    assert problems("live") == {"region eu-west-1": "the cluster's region is us-west-2"}
    module_value = infra_policy.module_value

    def egress_policy(module, address, attribute, tree=None):
        value = module_value(module, address, attribute, tree)
        if address == "module.eks" and attribute == "workload_roles":
            value = copy.deepcopy(value)
            value["velero"]["policy_json"] = "data.aws_iam_policy_document.egress_writer.json"
        return value

    monkeypatch.setattr(infra_policy, "module_value", egress_policy)
    assert "role velero: the backups policy" in problems("sandbox")


def test_an_azure_container_the_stack_does_not_make(monkeypatch):
    with_values(monkeypatch, lambda values: location(values).update(bucket="velero"))
    assert set(problems("azure-production")) == {
        "container velero",
        "identity velero: a role on container velero",
    }


def test_a_linode_location_without_the_stack_bucket_endpoint_or_key(monkeypatch):
    def wrong(values):
        location(values).update(bucket="voiceops-platform-velero", credential={"name": "velero-keys"})
        location(values)["config"]["s3Url"] = "https://us-east-1.linodeobjects.com"

    with_values(monkeypatch, wrong)
    assert problems("production") == {
        "bucket voiceops-platform-velero": "the stack's backups bucket is voiceops-platform-backups",
        "endpoint https://us-east-1.linodeobjects.com": "the cluster's region is served at https://fr-par-1.linodeobjects.com",
        "key Secret velero-keys": "no bundle secret read by velero carries the bucket's key",
    }


def test_the_wiring_rule_dangles_where_the_location_is_not_provided(monkeypatch):
    installed = wiring.Installed(environments.load("live"), [], [])
    assert {item.status for item in wiring.backup_locations(installed)} == {wiring.Status.RESOLVED}
    with_values(monkeypatch, lambda values: values.pop("initContainers"))
    dangling = [item for item in wiring.backup_locations(installed) if item.status is wiring.Status.DANGLING]
    assert [item.target for item in dangling] == ["plugin velero/velero-plugin-for-aws"]
    assert dangling[0].target == "plugin velero/velero-plugin-for-aws"
    installed.rendered_text[backups.RELEASE] = "rendered"  # a cached chart that renders no location
    assert "BackupStorageLocation (rendered)" in {
        item.target for item in wiring.backup_locations(installed) if item.status is wiring.Status.DANGLING
    }
