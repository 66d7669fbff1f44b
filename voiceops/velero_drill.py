"""The cluster-failure drill on a cloud: Velero backs up what only the cluster holds (RabbitMQ's
StatefulSet, its volumes and what it reads) and restores it into a scratch namespace, where it
must come up; production's namespace is only read.

- backup: a Backup `drill-<id>` of the platform namespace with its volumes (file-system
  backup), to the default location;
- restore, with the namespace mapped to `drill-<id>-<namespace>` so nothing lands in
  production's namespace: first its Secrets and ConfigMaps (`drill-<id>-config`: what RabbitMQ
  reads, written by operators that label them as they please), then RabbitMQ's own objects by
  label (`drill-<id>`), so no other workload of the namespace starts in the scratch one;
- verify: the restore completed without errors and the restored StatefulSet is ready;
- clean: the scratch namespace deleted (the backup expires by its TTL).

RTO: the restore's creation to the StatefulSet ready. RPO: the age of the newest scheduled
backup when the drill starts (what a real loss of the cluster would lose). Every object the
drill creates or deletes is named drill-<id>…; nothing else is changed. Without a reachable
cluster the drill stops with exit 5 before anything is made.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from voiceops import backups, cluster, environments
from voiceops.cloud_drills import DRILL_PREFIX
from voiceops.environments import Environment
from voiceops.errors import OpsError
from voiceops.runs import Step

VELERO_API = "velero.io/v1"
SELECTOR = {"app.kubernetes.io/name": "rabbitmq"}  # the in-cluster store the drill brings back
SCHEDULE_LABEL = "velero.io/schedule-name"
WAIT_SECONDS = 3600
DRILL_LABEL = "voiceops.io/drill"  # the drill id, on every object the drill creates


def backup_manifest(drill_id: str, velero_namespace: str, namespace: str) -> dict:
    return {
        "apiVersion": VELERO_API, "kind": "Backup",
        "metadata": {"name": f"{DRILL_PREFIX}{drill_id}", "namespace": velero_namespace,
                     "labels": {DRILL_LABEL: drill_id}},
        "spec": {"includedNamespaces": [namespace], "defaultVolumesToFsBackup": True,
                 "storageLocation": "default", "ttl": "24h0m0s"},
    }  # fmt: skip


CONFIG_RESOURCES = ["secrets", "configmaps"]


def restore_manifests(drill_id: str, velero_namespace: str, namespace: str) -> list[dict]:
    """The configuration first, then RabbitMQ's own objects: both into the scratch namespace."""
    common = {"backupName": f"{DRILL_PREFIX}{drill_id}", "includedNamespaces": [namespace],
              "namespaceMapping": {namespace: scratch_namespace(drill_id, namespace)},
              "existingResourcePolicy": "none"}  # fmt: skip
    parts = [
        (f"{DRILL_PREFIX}{drill_id}-config", {"includedResources": CONFIG_RESOURCES}),
        (f"{DRILL_PREFIX}{drill_id}", {"labelSelector": {"matchLabels": SELECTOR}, "restorePVs": True}),
    ]
    labels = {DRILL_LABEL: drill_id}
    return [
        {"apiVersion": VELERO_API, "kind": "Restore",
         "metadata": {"name": name, "namespace": velero_namespace, "labels": labels},
         "spec": {**common, **extra}}
        for name, extra in parts
    ]  # fmt: skip


def scratch_namespace(drill_id: str, namespace: str) -> str:
    return f"{DRILL_PREFIX}{drill_id}-{namespace}"[:63]


def newest_scheduled(backups_list: list[dict]) -> datetime | None:
    """When the newest completed scheduled backup started."""
    stamps = [
        datetime.fromisoformat(item["status"]["startTimestamp"].replace("Z", "+00:00"))
        for item in backups_list
        if (item.get("metadata", {}).get("labels") or {}).get(SCHEDULE_LABEL)
        and (item.get("status") or {}).get("phase") == "Completed"
        and (item.get("status") or {}).get("startTimestamp")
    ]
    return max(stamps, default=None)


@dataclass
class VeleroDrill:
    environment: Environment
    drill_id: str
    report: Callable[[str], None] = print
    checks: dict[str, tuple[str, str]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    restore_started: float | None = None
    ready_at: float | None = None

    def __post_init__(self) -> None:
        release = backups.velero_release(environments.cluster_owner(self.environment))
        if release is None:
            raise OpsError(f"{self.environment.name}: Velero is not installed on its cluster")
        self.velero_namespace = release.namespace
        self.namespace = self.environment.namespaces["platform"]
        self.scratch = scratch_namespace(self.drill_id, self.namespace)

    def _kubectl(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        result = cluster.kubectl(self.environment, *args, stdin=stdin, timeout=timeout)
        if result.returncode != 0:
            raise OpsError(f"kubectl {args[0]}: {cluster.last_line(result)}")
        return result.stdout

    def _create(self, manifest: dict) -> str:
        name = manifest["metadata"]["name"]
        if not name.startswith(DRILL_PREFIX):  # a drill creates only its own objects
            raise OpsError(f"refused to create {manifest['kind']} {name}: not a drill object")
        resource = f"{manifest['kind'].lower()}s.velero.io"
        found = self._kubectl(
            "get", resource, name, "-n", self.velero_namespace, "--ignore-not-found", "-o", "name"
        )
        if not found.strip():
            self._kubectl("create", "-f", "-", stdin=yaml.safe_dump(manifest))
            return f"{manifest['kind']} {name} created"
        return f"{manifest['kind']} {name} already there"

    def _wait(self, kind: str, name: str) -> dict:
        self._kubectl("wait", f"{kind}/{name}", "-n", self.velero_namespace,
                      "--for=jsonpath={.status.phase}=Completed", f"--timeout={WAIT_SECONDS}s",
                      timeout=WAIT_SECONDS + 60)  # fmt: skip
        return json.loads(self._kubectl("get", kind, name, "-n", self.velero_namespace, "-o", "json"))

    def backup(self) -> str:
        listed = json.loads(
            self._kubectl("get", "backups.velero.io", "-n", self.velero_namespace, "-o", "json")
        )
        self.facts["restorable_until"] = newest_scheduled(listed.get("items") or [])
        created = self._create(backup_manifest(self.drill_id, self.velero_namespace, self.namespace))
        status = self._wait("backups.velero.io", f"{DRILL_PREFIX}{self.drill_id}").get("status") or {}
        return f"{created}; {status.get('progress', {}).get('itemsBackedUp', 0)} object(s) backed up"

    def restore(self) -> str:
        self.restore_started = time.monotonic()
        created = []
        for manifest in restore_manifests(self.drill_id, self.velero_namespace, self.namespace):
            created.append(self._create(manifest))
            status = self._wait("restores.velero.io", manifest["metadata"]["name"]).get("status") or {}
            name = manifest["metadata"]["name"]
            self.checks[f"{name}: errors"] = ("0", str(status.get("errors", 0)))
            restored = (status.get("progress") or {}).get("itemsRestored")
            self.checks[f"{name}: objects restored"] = ("some", "some" if restored else "none")
        return f"{'; '.join(created)} into namespace {self.scratch}"

    def verify(self) -> str:
        self._kubectl("rollout", "status", "statefulset", "-n", self.scratch, "-l",
                      ",".join(f"{key}={value}" for key, value in SELECTOR.items()),
                      f"--timeout={WAIT_SECONDS}s", timeout=WAIT_SECONDS + 60)  # fmt: skip
        self.ready_at = time.monotonic()
        self.checks["StatefulSet ready"] = ("yes", "yes")
        differing = [name for name, (expected, found) in self.checks.items() if expected != found]
        if differing:
            raise OpsError(f"the restore into {self.scratch} is not whole: {', '.join(differing)}")
        return f"RabbitMQ restored and ready in {self.scratch}"

    def clean(self) -> str:
        if not self.scratch.startswith(DRILL_PREFIX):
            raise OpsError(f"refused to delete namespace {self.scratch}: not a drill namespace")
        self._kubectl("delete", "namespace", self.scratch, "--ignore-not-found", "--wait=false")
        return f"namespace {self.scratch} deleted (the drill's backup expires in 24 h)"

    def steps(self, keep: bool) -> list[Step]:
        chosen = [
            Step("back up RabbitMQ with its volumes", self.backup),
            Step("restore it into a scratch namespace", self.restore),
            Step("wait until it is ready", self.verify),
        ]
        if not keep:
            chosen.append(Step("delete the scratch namespace", self.clean))
        return chosen

    def measured(self, failed_at: datetime) -> tuple[float | None, float | None]:
        rto = None
        if self.restore_started is not None and self.ready_at is not None:
            rto = round(self.ready_at - self.restore_started, 3)
        newest = self.facts.get("restorable_until")
        rpo = round((failed_at - newest).total_seconds(), 3) if isinstance(newest, datetime) else None
        return rto, rpo
