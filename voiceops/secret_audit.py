"""Secret audit: every secret of an environment with its age, last rotation and next due date,
read from where the value lives, and whether anything is overdue, not provisioned or missing.

- Secrets Manager (AWS, and the local environment's emulator): the entry's creation date and
  the date of its last rotation (the tag `secrets.rotate` writes, else the current version's
  date); an entry without a version is not provisioned, one that does not exist is missing.
- Sealed secrets (Linode): the `voiceops.io/sealed-at` annotation `invoke secrets.seal`
  writes on the committed manifest; a secret with keys not sealed yet is not provisioned.
- Key Vault (Azure): the entry's first version's date and its newest version's (the value
  External Secrets reads); an entry whose newest value lacks a key (the stack creates each with
  the empty object) is not provisioned.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from voiceops import keyvault_rotation, local, secret_bundles, secret_versions, terraform
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.secret_bundles import PERIOD_DAYS, SEALED_AT, Materialized, Store
from voiceops.secret_versions import ROTATED_TAG, ResourceNotFoundException, ValueUnreadable


class AuditUnavailable(OpsError):
    exit_code = 5  # the store cannot be read from here


class AuditFailed(OpsError):
    pass


@dataclass(frozen=True)
class Dates:
    created: datetime.datetime | None
    rotated: datetime.datetime | None  # the current value's date; None: not provisioned


MISSING = None  # what a reader returns for an entry its store does not have


@dataclass(frozen=True)
class AuditRow:
    secret: str
    namespace: str
    store: str
    entry: str
    created: datetime.datetime | None
    rotated: datetime.datetime | None
    due: datetime.date | None
    status: str  # ok | overdue | not provisioned | missing

    def as_json(self) -> dict:
        return {
            "secret": self.secret, "namespace": self.namespace, "store": self.store, "entry": self.entry,
            "created": self.created.isoformat() if self.created else None,
            "last_rotation": self.rotated.isoformat() if self.rotated else None,
            "next_due": self.due.isoformat() if self.due else None,
            "status": self.status,
        }  # fmt: skip


Reader = Callable[[Materialized, str], Dates | None]


def secrets_manager_reader(client) -> Reader:  # boto3's client type is generated at run time
    def read(_item: Materialized, entry: str) -> Dates | None:
        try:
            described = client.describe_secret(SecretId=entry)
        except client.exceptions.ResourceNotFoundException:
            return MISSING
        current = [
            version for version in client.list_secret_version_ids(SecretId=entry)["Versions"]
            if "AWSCURRENT" in version.get("VersionStages", [])
        ]  # fmt: skip
        if not current:
            return Dates(described.get("CreatedDate"), None)
        # a rotation records its date; the local emulator, restarted, re-creates the entry today
        stamp = {tag["Key"]: tag["Value"] for tag in described.get("Tags") or []}.get(ROTATED_TAG)
        rotated = datetime.datetime.fromisoformat(stamp) if stamp else current[0].get("CreatedDate")
        return Dates(described.get("CreatedDate"), rotated)

    return read


def vault_reader(environment: Environment, store: keyvault_rotation.KeyVaultStore) -> Reader:
    def read(item: Materialized, entry: str) -> Dates | None:
        with keyvault_rotation.answering(environment, "not audited"):
            try:
                latest = store.latest(entry)
                # the rotation's date while the entry holds its value, not a rewrite of the same
                stamp = secret_versions.tags(store, entry).get(ROTATED_TAG)
            except ResourceNotFoundException:
                return MISSING
            except ValueUnreadable:
                latest, stamp = None, None  # readers cannot read it: not provisioned
            versions = [found.created_on for found in store.secrets.list_properties_of_secret_versions(entry)]
        created = min((when for when in versions if when), default=None)
        keys = set(keyvault_rotation.values(latest.value)) if latest is not None else set()
        if not set(item.declared.secret.keys) <= keys:
            return Dates(created, None)
        return Dates(
            created, datetime.datetime.fromisoformat(stamp) if stamp else latest.properties.created_on
        )

    return read


def sealed_reader(environment: Environment) -> Reader:
    def read(item: Materialized, _entry: str) -> Dates | None:
        path = secret_bundles.sealed_file(environment, item.namespace, item.name)
        if not path.is_file():
            return Dates(None, None)
        manifest = yaml.safe_load(path.read_text()) or {}
        sealed = set((manifest.get("spec") or {}).get("encryptedData") or {})
        stamp = ((manifest.get("metadata") or {}).get("annotations") or {}).get(SEALED_AT)
        when = datetime.datetime.fromisoformat(stamp) if stamp else None
        complete = set(item.declared.secret.keys) <= sealed
        return Dates(when, when if complete else None)

    return read


def audit(environment: Environment, reader: Reader, today: datetime.date) -> list[AuditRow]:
    rows = []
    for item in secret_bundles.for_environment(environment):
        store = item.declared.store or Store.SECRETS_MANAGER
        entry = secret_bundles.entry_name(environment, store, item.name)
        dates = reader(item, entry)
        period = datetime.timedelta(days=PERIOD_DAYS[item.declared.secret.rotation.period])
        if dates is MISSING:
            row = AuditRow(item.name, item.namespace, store.value, entry, None, None, None, "missing")
        elif dates.rotated is None:
            row = AuditRow(item.name, item.namespace, store.value, entry, dates.created, None, None,
                           "not provisioned")  # fmt: skip
        else:
            due = (dates.rotated + period).date()
            status = "overdue" if due < today else "ok"
            row = AuditRow(
                item.name, item.namespace, store.value, entry, dates.created, dates.rotated, due, status
            )
        rows.append(row)
    return rows


def reader_for(environment: Environment) -> Reader:
    """How the environment's store is read from here; one line and exit 5 where it cannot be."""
    if environment.cloud is Cloud.LINODE:
        return sealed_reader(environment)
    if environment.cloud is Cloud.LOCAL:
        layout = local.Layout.load()
        if layout is None or not local.moto_running():
            raise AuditUnavailable("local: the emulated Secrets Manager is not running (invoke local.up)")
        return secrets_manager_reader(local.aws_client(layout, "secretsmanager"))
    if environment.cloud is Cloud.AWS:
        missing = terraform.missing_credentials(Cloud.AWS)
        if missing:
            raise AuditUnavailable(f"{environment.name}: {missing}; Secrets Manager cannot be read")
        import boto3  # slow to import: only for the AWS store

        return secrets_manager_reader(boto3.client("secretsmanager", region_name=environment.regions.primary))
    return vault_reader(environment, keyvault_rotation.store(environment, "not audited"))


def problems(rows: list[AuditRow]) -> list[AuditRow]:
    return [row for row in rows if row.status != "ok"]
