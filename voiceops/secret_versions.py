"""The rotation protocol of AWS Secrets Manager on one entry, as its rotation functions use it:
a pending version (AWSPENDING) beside the current one, promoted by moving AWSCURRENT (the
old version becomes AWSPREVIOUS), and the previous credential retired after a grace period.

Everything a rotation must remember lives on the entry itself, so a rotation interrupted
anywhere is resumed from the store, from any machine:
- the rotation's token is a tag on every entry it rotates, until that entry is done;
- each entry's new version has a VersionId derived from the token and the entry's name, so
  a re-run finds it (and `put_secret_value` with the same token is idempotent);
- the time of promotion and the version retired are tags too.
Works against Secrets Manager and the local environment's emulator alike (a boto3 client).
"""

from __future__ import annotations

import abc
import datetime
import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from voiceops.errors import OpsError

PENDING, CURRENT, PREVIOUS = "AWSPENDING", "AWSCURRENT", "AWSPREVIOUS"
ROTATION_TAG = "voiceops:rotation"  # the token of the rotation in flight on this entry
PROMOTED_TAG = "voiceops:promoted-at"  # when the new version became current (starts the grace)
RETIRED_TAG = "voiceops:retired-version"  # the previous version whose credential was retired
ROTATED_TAG = "voiceops:rotated-at"  # the current value's date, kept when the emulator restarts


class Phase(StrEnum):
    IDLE = "idle"  # no rotation in flight
    CREATE = "create"  # the rotation's version does not exist yet
    PENDING = "pending"  # created (AWSPENDING), not yet current: set, test, promote
    PROMOTED = "promoted"  # current; the previous credential still works until retired
    DONE = "done"


@dataclass(frozen=True)
class State:
    entry: str
    phase: Phase
    token: str | None  # the rotation in flight
    version: str | None  # this entry's version of that rotation
    current: str | None  # the AWSCURRENT version id; None: no version yet (a new entry)
    previous: str | None  # the AWSPREVIOUS version id
    promoted_at: datetime.datetime | None


def version_id(token: str, entry: str) -> str:
    """The entry's new version in rotation `token`: the same on every re-run."""
    return str(uuid.uuid5(uuid.UUID(token), entry))


def new_token() -> str:
    return str(uuid.uuid4())


def tags(client, entry: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in client.describe_secret(SecretId=entry).get("Tags") or []}


def _stages(client, entry: str) -> dict[str, list[str]]:
    return client.describe_secret(SecretId=entry).get("VersionIdsToStages") or {}


def token_in_flight(client, entries: list[str]) -> str | None:
    """The token of a rotation still in flight on any of the entries (one at a time per entry)."""
    found = {tags(client, entry).get(ROTATION_TAG) for entry in entries} - {None}
    if len(found) > 1:
        raise ValueError(f"two rotations in flight on {', '.join(entries)}: {', '.join(sorted(found))}")
    return found.pop() if found else None


def state(client, entry: str, token: str | None) -> State:
    described = client.describe_secret(SecretId=entry)
    marks = {tag["Key"]: tag["Value"] for tag in described.get("Tags") or []}
    stages = described.get("VersionIdsToStages") or {}
    current = next((version for version, labels in stages.items() if CURRENT in labels), None)
    previous = next((version for version, labels in stages.items() if PREVIOUS in labels), None)
    promoted = marks.get(PROMOTED_TAG)
    promoted_at = datetime.datetime.fromisoformat(promoted) if promoted else None
    if token is None or marks.get(ROTATION_TAG) != token:
        # not part of this rotation, or this entry finished it already
        done = token is not None and version_id(token, entry) == current
        return State(entry, Phase.DONE if done else Phase.IDLE, token, None, current, previous, promoted_at)
    version = version_id(token, entry)
    if version not in stages:
        phase = Phase.CREATE
    elif PENDING in stages[version] or version != current:
        # an entry's first version is also AWSCURRENT from the start (Secrets Manager gives it
        # the label whatever the call asks): it is promoted only once AWSPENDING is gone
        phase = Phase.PENDING
    else:
        phase = Phase.PROMOTED
    return State(entry, phase, token, version, current, previous, promoted_at)


def current_string(client, entry: str) -> str:
    """The current version's text. The stage is named: the emulator's default version does not
    follow AWSCURRENT when a rotation moves it (Secrets Manager's does)."""
    return client.get_secret_value(SecretId=entry, VersionStage=CURRENT)["SecretString"]


def value(client, entry: str, version: str) -> dict[str, str]:
    return json.loads(client.get_secret_value(SecretId=entry, VersionId=version)["SecretString"])


def begin(client, entry: str, token: str) -> None:
    client.tag_resource(SecretId=entry, Tags=[{"Key": ROTATION_TAG, "Value": token}])


def create(client, entry: str, token: str, values: dict[str, str]) -> None:
    """createSecret: the new values as AWSPENDING; the current version stays current."""
    client.put_secret_value(
        SecretId=entry, ClientRequestToken=version_id(token, entry), SecretString=json.dumps(values),
        VersionStages=[PENDING],
    )  # fmt: skip


def promote(client, item: State, now: datetime.datetime) -> None:
    """finishSecret: AWSCURRENT moves to the new version (the old one becomes AWSPREVIOUS), the
    grace period starts. Each call is safe to repeat. The grace's start is written first: an
    entry is never promoted with an older rotation's date, which would end its grace at once."""
    if item.version is None:
        raise ValueError(f"{item.entry}: no rotation in flight to promote")
    stamp = now.isoformat(timespec="seconds")
    client.tag_resource(SecretId=item.entry, Tags=[{"Key": PROMOTED_TAG, "Value": stamp}])
    if item.current != item.version:  # an entry's first version is current already
        client.update_secret_version_stage(
            SecretId=item.entry, VersionStage=CURRENT, MoveToVersionId=item.version,
            RemoveFromVersionId=item.current,
        )  # fmt: skip
    if PENDING in _stages(client, item.entry).get(item.version, []):
        client.update_secret_version_stage(
            SecretId=item.entry, VersionStage=PENDING, RemoveFromVersionId=item.version
        )
    client.tag_resource(SecretId=item.entry, Tags=[{"Key": ROTATED_TAG, "Value": stamp}])


def finish(client, item: State) -> None:
    """The previous credential is retired: the rotation is over on this entry. Its date is the
    promotion's, also where a run died before the promotion wrote it."""
    marks = [{"Key": RETIRED_TAG, "Value": item.previous or ""}]
    if item.promoted_at:
        marks.append({"Key": ROTATED_TAG, "Value": item.promoted_at.isoformat(timespec="seconds")})
    client.tag_resource(SecretId=item.entry, Tags=marks)
    client.untag_resource(SecretId=item.entry, TagKeys=[ROTATION_TAG])


def valid_values(client, entry: str) -> list[dict[str, str]]:
    """Every version whose credential a server must accept now: the current one, a pending one,
    and the previous one while its rotation is in flight (promoted, not yet retired)."""
    described = client.describe_secret(SecretId=entry)
    marks = {tag["Key"]: tag["Value"] for tag in described.get("Tags") or []}
    stages = described.get("VersionIdsToStages") or {}
    wanted = [version for version, labels in stages.items() if CURRENT in labels]
    wanted += [version for version, labels in stages.items() if PENDING in labels and CURRENT not in labels]
    token = marks.get(ROTATION_TAG)
    if token and CURRENT in stages.get(version_id(token, entry), []):  # promoted, not yet retired
        wanted += [version for version, labels in stages.items() if PREVIOUS in labels]
    return [value(client, entry, version) for version in wanted]


class ResourceNotFoundException(OpsError):
    pass


class ValueUnreadable(OpsError):
    """The entry exists, but its value cannot be read (a disabled Key Vault version)."""


class _Exceptions:
    ResourceNotFoundException = ResourceNotFoundException


def published(version: dict) -> bool:
    """Whether a document's version is the one readers get: current, and not a first value
    still being tested."""
    return CURRENT in version["stages"] and PENDING not in version["stages"]


class DocumentStore(abc.ABC):
    """A store without Secrets Manager's stages, made to answer the calls of a Secrets Manager
    client the rotation makes (describe, get, put, stage moves, tags). Each entry's versions,
    their stages and the rotation's tags are one document,
    {"secret", "tags", "versions": [{"id", "stages", "value"}]}; a subclass reads it (`_state`),
    writes it and gives readers its published version (`_save`), and keeps each value in it
    (`_encode`, `_decode`)."""

    exceptions = _Exceptions

    @abc.abstractmethod
    def _state(self, entry: str) -> dict:
        """The entry's document as it stands now."""

    @abc.abstractmethod
    def _save(self, entry: str, state: dict) -> None:
        """Write the document, and give readers its published version."""

    @abc.abstractmethod
    def _encode(self, entry: str, values: dict[str, str]) -> Any:
        """A value as the document keeps it."""

    @abc.abstractmethod
    def _decode(self, entry: str, version: dict) -> dict[str, str]:
        """A document version's value."""

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        state = self._state(SecretId)
        return {
            "Name": SecretId,
            "Tags": [{"Key": key, "Value": value} for key, value in state["tags"].items()],
            "VersionIdsToStages": {version["id"]: list(version["stages"]) for version in state["versions"]},
        }

    def get_secret_value(
        self, SecretId: str, VersionId: str | None = None, VersionStage: str | None = None,
    ) -> dict[str, str]:  # fmt: skip
        state = self._state(SecretId)
        stage = VersionStage or (None if VersionId else CURRENT)
        wanted = [
            version for version in state["versions"]
            if VersionId in (None, version["id"]) and (stage is None or stage in version["stages"])
        ]  # fmt: skip
        if not wanted:
            raise ResourceNotFoundException(f"{SecretId}: no version {VersionId or stage}")
        return {"SecretString": json.dumps(self._decode(SecretId, wanted[0])), "VersionId": wanted[0]["id"]}

    def put_secret_value(
        self, SecretId: str, SecretString: str, ClientRequestToken: str | None = None,
        VersionStages: list[str] | None = None,
    ) -> dict[str, str]:  # fmt: skip
        state = self._state(SecretId)
        version_id = ClientRequestToken or str(uuid.uuid4())
        values = json.loads(SecretString)
        same = [version for version in state["versions"] if version["id"] == version_id]
        if same:  # the same request again is accepted; another value under its id is not
            if self._decode(SecretId, same[0]) != values:
                raise OpsError(f"{SecretId}: version {version_id} exists with another value")
            return {"VersionId": version_id}
        stages = list(VersionStages or [CURRENT])
        if not any(CURRENT in version["stages"] for version in state["versions"]):
            stages.append(CURRENT)  # a first version is current from the start, as in Secrets Manager
        state["versions"].append({"id": version_id, "stages": [], "value": self._encode(SecretId, values)})
        for stage in dict.fromkeys(stages):
            _move(state, stage, version_id)
        self._save(SecretId, state)
        return {"VersionId": version_id}

    def update_secret_version_stage(
        self, SecretId: str, VersionStage: str, MoveToVersionId: str | None = None,
        RemoveFromVersionId: str | None = None,
    ) -> None:  # fmt: skip
        state = self._state(SecretId)
        _move(state, VersionStage, MoveToVersionId)
        self._save(SecretId, state)

    def tag_resource(self, SecretId: str, Tags: list[dict[str, str]]) -> None:
        state = self._state(SecretId)
        state["tags"].update({tag["Key"]: tag["Value"] for tag in Tags})
        self._save(SecretId, state)

    def untag_resource(self, SecretId: str, TagKeys: list[str]) -> None:
        state = self._state(SecretId)
        for key in TagKeys:
            state["tags"].pop(key, None)
        self._save(SecretId, state)


def _move(state: dict, stage: str, to: str | None) -> None:
    """The stage leaves whichever version holds it (the current one becomes previous) and, with
    `to`, goes to that version."""
    if to is not None and not any(version["id"] == to for version in state["versions"]):
        raise ResourceNotFoundException(f"{state['secret']}: no version {to}")
    for version in state["versions"]:
        if stage in version["stages"] and version["id"] != to:
            version["stages"].remove(stage)
            if stage == CURRENT and to is not None:
                for other in state["versions"]:
                    if PREVIOUS in other["stages"]:
                        other["stages"].remove(PREVIOUS)
                version["stages"].append(PREVIOUS)
    for version in state["versions"]:
        if version["id"] == to and stage not in version["stages"]:
            version["stages"].append(stage)
