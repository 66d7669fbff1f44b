"""secrets.rotate and secrets.audit on Azure, through the Key Vault SDK against the tests' Key
Vault endpoint (keyvault_emulator), with the vault as the stack leaves it: each entry holding
the empty object. Readers (External Secrets) read an entry's newest version, so what is checked
is that nothing but a tested, promoted value ever becomes it."""

import datetime
import json
import re
import time

import pytest
from azure.keyvault.secrets import SecretClient

from voiceops import (
    environments,
    keyvault_rotation,
    secret_audit,
    secret_bundles,
    secret_rotation,
    secret_versions,
)
from voiceops.errors import OpsError
from voiceops.secret_bundles import Store
from voiceops.toolchain import ROOT

from .conftest import free_port
from .keyvault_emulator import TOKEN, KeyVaultEmulator

ENVIRONMENT = "azure-production"
LIVEKIT = f"{ENVIRONMENT}--livekit-api-keys"


def ignore(line: str) -> None:
    """Progress lines are not what these tests check."""


def rotate(bundle: str, secret: str | None = None):
    record, _ = secret_rotation.rotate(ENVIRONMENT, bundle, secret, 0, ENVIRONMENT, report=ignore)
    return record


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with KeyVaultEmulator(tmp_path_factory.mktemp("vault")) as running:
        yield running


@pytest.fixture
def vault(server, monkeypatch):
    """The environment's vault after `terraform apply`: every entry, each with the empty object,
    the stack's tags and an expiry at its rotation period (stacks/azure/production/secrets.tf)."""
    server.vault.clear()
    monkeypatch.setenv(keyvault_rotation.URL_VARIABLE, server.url)
    monkeypatch.setenv(keyvault_rotation.TOKEN_VARIABLE, TOKEN)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca))
    environment = environments.load(ENVIRONMENT)
    client = keyvault_rotation.client(environment)
    now = datetime.datetime.now(datetime.UTC)
    for item in secret_bundles.for_environment(environment):
        if item.declared.store is Store.KEY_VAULT:
            client.set_secret(
                secret_bundles.entry_name(environment, Store.KEY_VAULT, item.name), "{}",
                content_type="application/json", expires_on=now + datetime.timedelta(days=90),
                tags={"environment": ENVIRONMENT, "secret": item.name, "managed-by": "terraform"},
            )  # fmt: skip
    return client


def newest(client, entry: str) -> dict:
    """What External Secrets reads: the entry's newest version."""
    return json.loads(client.get_secret(entry).value)


def stages(store, entry: str) -> list[list[str]]:
    described = store.describe_secret(SecretId=entry)
    return sorted(sorted(labels) for labels in described["VersionIdsToStages"].values())


def tags(store, entry: str) -> dict[str, str]:
    return secret_versions.tags(store, entry)


def test_a_rotation_writes_only_promoted_values_to_the_entry_and_keeps_the_previous(vault):
    store = keyvault_rotation.store(environments.load(ENVIRONMENT))
    assert rotate("livekit").result == "succeeded"  # the first value
    first = newest(vault, LIVEKIT)
    assert len(first["keys.yaml"].splitlines()) == 1
    assert stages(store, LIVEKIT) == [["AWSCURRENT"]]
    assert rotate("livekit").result == "succeeded"
    second = newest(vault, LIVEKIT)
    pairs = second["keys.yaml"].splitlines()
    assert (
        len(pairs) == 2 and pairs[1:] == first["keys.yaml"].splitlines()
    )  # the previous pair kept beside the new
    assert stages(store, LIVEKIT) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    assert secret_versions.ROTATION_TAG not in tags(store, LIVEKIT)
    written = vault.get_secret(LIVEKIT).properties
    assert written.tags["managed-by"] == "terraform"  # the stack's tags follow every new version
    document = json.loads(vault.get_secret(LIVEKIT + keyvault_rotation.DOCUMENT_SUFFIX).value)
    current = [version for version in document["versions"] if "AWSCURRENT" in version["stages"]]
    assert current[0][keyvault_rotation.VAULT_VERSION] == written.version  # which version holds it
    expiry = written.expires_on - written.created_on
    assert datetime.timedelta(days=89) < expiry <= datetime.timedelta(days=90)  # quarterly
    companions = [found.name for found in vault.list_properties_of_secrets()
                  if found.name.endswith(keyvault_rotation.DOCUMENT_SUFFIX)]  # fmt: skip
    assert companions == [LIVEKIT + keyvault_rotation.DOCUMENT_SUFFIX]  # only for what was rotated
    documents = len(list(vault.list_properties_of_secret_versions(companions[0])))
    store.tag_resource(SecretId=LIVEKIT, Tags=[{"Key": secret_versions.ROTATED_TAG, "Value": "x"}])
    store.tag_resource(SecretId=LIVEKIT, Tags=[{"Key": secret_versions.ROTATED_TAG, "Value": "x"}])
    assert len(list(vault.list_properties_of_secret_versions(companions[0]))) == documents + 1  # once
    history = [json.loads(vault.get_secret(LIVEKIT, found.version).value)
               for found in vault.list_properties_of_secret_versions(LIVEKIT)]  # fmt: skip
    assert history == [{}, first, second]  # nothing pending ever became the newest version


def test_a_run_killed_after_any_step_is_completed_by_the_next(vault, monkeypatch):
    class Killed(BaseException):
        pass

    def die(pid, signal_number):
        raise Killed

    store = keyvault_rotation.store(environments.load(ENVIRONMENT))
    monkeypatch.setattr(secret_rotation.os, "kill", die)
    rotate("livekit")
    for step in ("plan", "create", "test", "promote", "retire"):  # each leaves another state
        before = newest(vault, LIVEKIT)
        monkeypatch.setenv(secret_rotation.CRASH_VARIABLE, step)
        with pytest.raises(Killed):
            rotate("livekit")
        if step in ("plan", "create", "set", "test"):
            assert newest(vault, LIVEKIT) == before, step  # readers still get the current value
        monkeypatch.delenv(secret_rotation.CRASH_VARIABLE)
        assert rotate("livekit").result == "succeeded", step
        assert newest(vault, LIVEKIT) != before, step
        assert secret_versions.ROTATION_TAG not in tags(store, LIVEKIT), step
        assert stages(store, LIVEKIT) == [["AWSCURRENT"], ["AWSPREVIOUS"]], step
        current = json.loads(secret_versions.current_string(store, LIVEKIT))
        assert current == newest(vault, LIVEKIT), step


class Killed(BaseException):
    """The process dies."""


def dying_on(monkeypatch, name: str, when=lambda value: True) -> None:
    """The process dies as it writes `name` to the vault (when `when` says so of the value)."""
    original = SecretClient.set_secret

    def set_secret(self, secret_name, value, **options):
        if secret_name == name and when(value):
            raise Killed
        return original(self, secret_name, value, **options)

    monkeypatch.setattr(SecretClient, "set_secret", set_secret)


def publishes_unheld(value: str) -> bool:
    """A document whose current version no Key Vault version holds yet: the entry comes next."""
    document = json.loads(value)
    return any(
        secret_versions.CURRENT in version["stages"] and secret_versions.PENDING not in version["stages"]
        and keyvault_rotation.VAULT_VERSION not in version
        for version in document["versions"]
    )  # fmt: skip


def test_the_entry_is_written_only_after_the_document_and_a_run_dying_between_is_completed(
    vault, monkeypatch
):
    rotate("livekit")
    store = keyvault_rotation.store(environments.load(ENVIRONMENT))
    aged = [{"Key": secret_versions.PROMOTED_TAG, "Value": "2020-01-01T00:00:00+00:00"}]
    store.tag_resource(SecretId=LIVEKIT, Tags=aged)  # the last rotation's promotion, long ago
    before = newest(vault, LIVEKIT)
    with monkeypatch.context() as patched:  # dies as it writes the promotion to the document
        dying_on(patched, LIVEKIT + keyvault_rotation.DOCUMENT_SUFFIX, publishes_unheld)
        with pytest.raises(Killed):
            rotate("livekit")
    assert newest(vault, LIVEKIT) == before  # the entry is never ahead of the document
    for _ in range(2):
        with monkeypatch.context() as patched:  # dies as it writes the promoted value to the entry
            dying_on(patched, LIVEKIT)
            with pytest.raises(Killed):
                rotate("livekit")
        assert newest(vault, LIVEKIT) == before
    lines: list[str] = []
    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    record, _ = secret_rotation.rotate(ENVIRONMENT, "livekit", None, 0, ENVIRONMENT, report=lines.append)
    assert record.result == "succeeded"
    assert any(f"given their current value: {LIVEKIT}" in line for line in lines)  # before any step
    # the grace counts from when the entry got the value, not from the promotion readers never saw
    assert datetime.datetime.fromisoformat(tags(store, LIVEKIT)[secret_versions.PROMOTED_TAG]) >= started
    assert newest(vault, LIVEKIT) == json.loads(secret_versions.current_string(store, LIVEKIT))
    assert newest(vault, LIVEKIT)["keys.yaml"].splitlines()[1:] == before["keys.yaml"].splitlines()[:1]


def test_a_run_dying_right_after_the_entry_was_written_keeps_the_rotation(vault, monkeypatch):
    """The entry got the promoted value; the process dies before the document says which Key
    Vault version holds it. The value is the document's current one: the rotation goes on."""
    rotate("livekit")
    written: list[str] = []
    original = SecretClient.set_secret

    def set_secret(self, secret_name, value, **options):
        if written and secret_name == LIVEKIT + keyvault_rotation.DOCUMENT_SUFFIX:
            raise Killed
        found = original(self, secret_name, value, **options)
        if secret_name == LIVEKIT:
            written.append(value)
        return found

    with monkeypatch.context() as patched:
        patched.setattr(SecretClient, "set_secret", set_secret)
        with pytest.raises(Killed):
            rotate("livekit")
    store = keyvault_rotation.store(environments.load(ENVIRONMENT))
    assert secret_versions.ROTATION_TAG in tags(store, LIVEKIT)
    assert stages(store, LIVEKIT) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    assert rotate("livekit").result == "succeeded"
    assert newest(vault, LIVEKIT) == json.loads(written[0])  # the same rotation completed


def test_a_first_value_reaches_the_entry_only_once_tested_and_promoted(vault, monkeypatch):
    monkeypatch.setattr(secret_rotation.os, "kill", lambda pid, number: (_ for _ in ()).throw(Killed()))
    for step in ("create", "set", "test"):
        monkeypatch.setenv(secret_rotation.CRASH_VARIABLE, step)
        with pytest.raises(Killed):
            rotate("livekit")
        assert newest(vault, LIVEKIT) == {}, step
    monkeypatch.delenv(secret_rotation.CRASH_VARIABLE)
    assert rotate("livekit").result == "succeeded"
    assert newest(vault, LIVEKIT)["keys.yaml"]


def test_definitions_rewritten_after_a_run_died_reach_the_brokers(vault, monkeypatch):
    """A platform credential written by hand (Azure's are): the boot definitions must get its
    RabbitMQ user, even when the run writing them dies before the entry."""
    definitions = f"{ENVIRONMENT}--rabbitmq-definitions"
    rotate("messaging")
    service = {"rabbitmq-username": "platform-api-rest", "rabbitmq-password": "p" * 24,
               "postgres-username": "platform-api-rest", "postgres-password": "q" * 24,
               "redis-username": "platform-api-rest", "redis-password": "r" * 24}  # fmt: skip
    vault.set_secret(f"{ENVIRONMENT}--api-rest-credentials", json.dumps(service))
    with monkeypatch.context() as patched:
        dying_on(patched, definitions)
        with pytest.raises(Killed):
            rotate("livekit")
    rotate("livekit")
    booted = json.loads(newest(vault, definitions)["load_definition.json"])
    assert "platform-api-rest" in {user["name"] for user in booted["users"]}


def test_a_value_written_or_rolled_back_by_hand_is_the_current_one(vault):
    store = keyvault_rotation.store(environments.load(ENVIRONMENT))
    rotate("livekit")
    first = newest(vault, LIVEKIT)
    rotate("livekit")
    kept = vault.get_secret(LIVEKIT).properties.tags
    vault.set_secret(LIVEKIT, json.dumps(first), tags=kept)  # a rollback by hand, tags and all
    assert json.loads(secret_versions.current_string(store, LIVEKIT)) == first
    assert stages(store, LIVEKIT) == [["AWSCURRENT"]]
    store.tag_resource(SecretId=LIVEKIT, Tags=[{"Key": "noted", "Value": "yes"}])
    assert len(list(vault.list_properties_of_secret_versions(LIVEKIT))) == 4  # not written again
    rotate("livekit")
    assert newest(vault, LIVEKIT)["keys.yaml"].splitlines()[1:] == first["keys.yaml"].splitlines()[:1]


def test_a_rotation_in_flight_survives_a_terraform_apply_and_yields_to_a_hand_write(vault, monkeypatch):
    store = keyvault_rotation.store(environments.load(ENVIRONMENT))
    rotate("livekit")
    monkeypatch.setattr(secret_rotation.os, "kill", lambda pid, number: (_ for _ in ()).throw(Killed()))
    monkeypatch.setenv(secret_rotation.CRASH_VARIABLE, "promote")
    with pytest.raises(Killed):
        rotate("livekit")
    promoted = newest(vault, LIVEKIT)
    # an apply of a plan made before the rotation sets the stack's tags on the newest version
    vault.update_secret_properties(LIVEKIT, tags={"environment": ENVIRONMENT, "secret": "livekit-api-keys"})
    assert secret_versions.ROTATION_TAG in tags(store, LIVEKIT)
    assert stages(store, LIVEKIT) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    # a value written by hand while the rotation waits is the current one: the rotation yields
    by_hand = {"keys.yaml": "APIbyhand: written-by-the-operator\n"}
    vault.set_secret(LIVEKIT, json.dumps(by_hand))
    assert secret_versions.ROTATION_TAG not in tags(store, LIVEKIT)
    assert stages(store, LIVEKIT) == [["AWSCURRENT"]] and newest(vault, LIVEKIT) != promoted
    monkeypatch.delenv(secret_rotation.CRASH_VARIABLE)
    rotate("livekit")
    assert newest(vault, LIVEKIT)["keys.yaml"].splitlines()[1:] == by_hand["keys.yaml"].splitlines()


def test_a_disabled_value_or_a_deleted_rotation_state_is_one_line(vault):
    environment = environments.load(ENVIRONMENT)
    rotate("livekit")
    vault.begin_delete_secret(LIVEKIT + keyvault_rotation.DOCUMENT_SUFFIX).wait()
    with pytest.raises(
        OpsError, match=r"--rotation was deleted and purge protection keeps its name: recover it"
    ):
        rotate("livekit")
    grafana = f"{ENVIRONMENT}--grafana-admin"
    rotate("observability", "grafana-admin")
    vault.update_secret_properties(grafana, enabled=False)  # an incident: the value disabled
    with pytest.raises(OpsError, match=r"grafana-admin: its newest version is disabled"):
        rotate("observability", "grafana-admin")
    today = datetime.datetime.now(datetime.UTC).date()
    rows = {
        row.secret: row
        for row in secret_audit.audit(environment, secret_audit.reader_for(environment), today)
    }
    assert rows["grafana-admin"].status == "not provisioned" and rows["livekit-api-keys"].status == "ok"


def test_a_refused_run_settles_nothing_and_the_grace_starts_at_the_entry_write(vault, monkeypatch):
    rotate("messaging")
    rotate("livekit")
    with monkeypatch.context() as patched:
        dying_on(patched, LIVEKIT)
        with pytest.raises(Killed):
            rotate("livekit")
    before = newest(vault, LIVEKIT)
    with pytest.raises(OpsError, match="nothing was changed"):
        rotate("messaging")  # refused: its values are set
    assert newest(vault, LIVEKIT) == before
    original = SecretClient.set_secret

    def slow(self, name, value, **options):  # the entry write takes a while (throttled, retried)
        if name == LIVEKIT:
            time.sleep(1.1)
        return original(self, name, value, **options)

    monkeypatch.setattr(SecretClient, "set_secret", slow)
    rotate("livekit")
    store = keyvault_rotation.store(environments.load(ENVIRONMENT))
    promoted = datetime.datetime.fromisoformat(tags(store, LIVEKIT)[secret_versions.PROMOTED_TAG])
    assert promoted >= vault.get_secret(LIVEKIT).properties.created_on


def test_the_pairs_other_secrets_hold_stay_in_livekits_keys(vault):
    rotate("livekit")
    agents_key = newest(vault, LIVEKIT)["keys.yaml"].split(":")[0]
    issued = {"livekit-api-key": agents_key, "livekit-api-secret": "s", "llm-api-key": "k"}
    vault.set_secret(f"{ENVIRONMENT}--agent-service-credentials", json.dumps(issued))
    for _ in range(3):
        rotate("livekit")
    keys = [line.split(":")[0] for line in newest(vault, LIVEKIT)["keys.yaml"].splitlines()]
    assert len(keys) == 3 and keys[2] == agents_key  # the new pair, the previous one, the agents'


def test_a_value_rewritten_or_emptied_by_hand_is_audited_as_it_is(vault, server):
    environment = environments.load(ENVIRONMENT)
    grafana = f"{ENVIRONMENT}--grafana-admin"
    rotate("observability", "grafana-admin")
    store = keyvault_rotation.store(environment)
    aged = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=200)).isoformat(timespec="seconds")
    store.tag_resource(SecretId=grafana, Tags=[{"Key": secret_versions.ROTATED_TAG, "Value": aged}])
    same = vault.get_secret(grafana)
    vault.set_secret(grafana, same.value, tags=same.properties.tags)  # a provisioning script run again

    def status() -> str:
        today = datetime.datetime.now(datetime.UTC).date()
        rows = secret_audit.audit(environment, secret_audit.reader_for(environment), today)
        return next(row.status for row in rows if row.secret == "grafana-admin")

    assert status() == "overdue"  # the same value again is no rotation
    vault.set_secret(grafana, "{}")  # a leaked value emptied by hand
    rotate("livekit")  # settles what runs left undone: not this
    assert newest(vault, grafana) == {} and status() == "not provisioned"


def test_unreadable_entries_of_other_bundles_do_not_stop_a_rotation(vault):
    rotate("messaging")
    rotate("observability", "grafana-admin")
    service = {"rabbitmq-username": "platform-api-rest", "rabbitmq-password": "p" * 24,
               "postgres-username": "platform-api-rest", "postgres-password": "q" * 24,
               "redis-username": "platform-api-rest", "redis-password": "r" * 24}  # fmt: skip
    credentials = f"{ENVIRONMENT}--api-rest-credentials"
    vault.set_secret(credentials, json.dumps(service))
    vault.update_secret_properties(credentials, enabled=False)  # an incident: disabled
    vault.update_secret_properties(
        f"{ENVIRONMENT}--grafana-admin{keyvault_rotation.DOCUMENT_SUFFIX}", enabled=False
    )
    record = rotate("livekit")
    assert record.result == "succeeded"
    stopped = f"rabbitmq-definitions: not rewritten, {credentials}: its newest version is disabled"
    assert all(stopped in step.detail for step in record.steps if step.name.startswith("mark"))


def test_the_messaging_bundle_gets_its_first_values_and_then_is_refused(vault):
    assert rotate("messaging").result == "succeeded"
    admin = newest(vault, f"{ENVIRONMENT}--rabbitmq-credentials")
    document = json.loads(newest(vault, f"{ENVIRONMENT}--rabbitmq-definitions")["load_definition.json"])
    assert document["users"][0]["name"] == "user" and admin["rabbitmq-password"]
    with pytest.raises(
        OpsError, match=r"checked by a server whose credential secrets\.rotate does not change on Azure"
    ):
        rotate("messaging", "rabbitmq-credentials")


@pytest.mark.parametrize(
    ("bundle", "secret", "reason"),
    [
        # the others would lose the cache's key when the one it leaves is regenerated
        (
            "platform", "api-rest-credentials",
            "api-rest-credentials shares Azure Cache for Redis's access key with api-graphql-credentials, "
            "integrations-credentials, media-processing-credentials, temporal-worker-credentials, "
            "text-credentials, voice-credentials",
        ),
        ("agent-service", None, "agent-service-credentials is issued by"),
    ],
)  # fmt: skip
def test_what_secrets_rotate_does_not_change_on_azure_is_refused_before_anything(
    vault, bundle, secret, reason
):
    with pytest.raises(OpsError, match=reason):
        rotate(bundle, secret)
    assert all(
        json.loads(vault.get_secret(found.name).value) == {} for found in vault.list_properties_of_secrets()
    )  # nothing was written


def test_the_audit_reads_each_entry_and_its_newest_value(vault, server):
    environment = environments.load(ENVIRONMENT)
    reader = secret_audit.reader_for(environment)
    today = datetime.datetime.now(datetime.UTC).date()
    rows = {row.secret: row for row in secret_audit.audit(environment, reader, today)}
    assert {row.status for row in rows.values()} == {"not provisioned"}  # the stack's empty objects
    rotate("livekit")
    rotate("observability", "grafana-admin")
    rows = {row.secret: row for row in secret_audit.audit(environment, reader, today)}
    assert rows["livekit-api-keys"].status == "ok" and rows["grafana-admin"].status == "ok"
    assert rows["livekit-api-keys"].due == today + datetime.timedelta(days=90)
    # a value rotated a quarter and a day ago is overdue; an entry the vault lost is missing
    store = keyvault_rotation.store(environment)
    aged = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=91)).isoformat(timespec="seconds")
    store.tag_resource(SecretId=LIVEKIT, Tags=[{"Key": secret_versions.ROTATED_TAG, "Value": aged}])
    made = server.vault.secrets[LIVEKIT.lower()][0]["attributes"]
    made["created"] -= 200 * 86400  # the stack made the entry long before
    del server.vault.secrets[f"{ENVIRONMENT}--grafana-admin"]
    rows = {row.secret: row for row in secret_audit.audit(environment, reader, today)}
    assert rows["livekit-api-keys"].status == "overdue"
    assert rows["livekit-api-keys"].created.date() == today - datetime.timedelta(days=200)
    assert rows["grafana-admin"].status == "missing"


def test_a_vault_out_of_reach_or_without_credentials_is_one_line_and_exit_5(vault, monkeypatch):
    monkeypatch.setenv(keyvault_rotation.URL_VARIABLE, f"https://127.0.0.1:{free_port()}")  # nothing there
    environment = environments.load(ENVIRONMENT)
    with pytest.raises(OpsError, match=rf"^{ENVIRONMENT}: Key Vault: .*; nothing was changed$") as stopped:
        rotate("livekit")
    assert stopped.value.exit_code == 5
    with pytest.raises(OpsError, match=rf"^{ENVIRONMENT}: Key Vault: .*; not audited$") as stopped:
        secret_audit.audit(environment, secret_audit.reader_for(environment), datetime.date.today())
    assert stopped.value.exit_code == 5
    monkeypatch.delenv(keyvault_rotation.URL_VARIABLE)
    for name in ("ARM_CLIENT_ID", "ARM_USE_OIDC", "ARM_CLIENT_SECRET", "ARM_USE_MSI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")
    with pytest.raises(
        OpsError, match=rf"^{ENVIRONMENT}: no azure credentials .*; nothing was changed$"
    ) as stopped:
        secret_rotation.rotate(ENVIRONMENT, "livekit", None, None, ENVIRONMENT, report=ignore)
    assert stopped.value.exit_code == 5


def test_the_administrator_is_read_from_the_entry_the_stack_writes():
    """modules/azure/postgresql writes the administrator to the vault entry the stack names."""
    stack = (ROOT / "infra/terraform/stacks/azure/production/main.tf").read_text()
    entry = keyvault_rotation.AzureServers.ADMINISTRATOR
    assert re.search(r'vault_entry\s*=\s*"\$\{local\.environment\}--' + re.escape(entry) + '"', stack)


@pytest.mark.parametrize(
    ("url", "emulated"),
    [("https://127.0.0.1:8443", True), ("https://kv-voiceassistant-prod.vault.azure.net", False)],
)
def test_only_an_endpoint_on_this_machine_is_an_emulated_vault(monkeypatch, url, emulated):
    """Any other vault is Azure's: Entra ID credentials, the grace's minimum and TLS stay."""
    monkeypatch.setenv(keyvault_rotation.URL_VARIABLE, url)
    assert keyvault_rotation.emulated() is emulated
