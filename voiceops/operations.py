"""`invoke status` and `invoke rollback`: what runs in an environment, what the last
deploys did, and how to step a release back (Helm rollback, or Argo CD rollback for
GitOps environments as seed 002 describes), with a health check and an audit record."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from voiceops import catalog, cluster, drills, environments, local, output
from voiceops.environments import Cloud, Delivery, Environment
from voiceops.errors import OpsError
from voiceops.runs import AuditRecord, Run, Step
from voiceops.toolchain import state_dir


@dataclass
class Status:
    environment: str
    cloud: str
    delivery: str
    cluster: str  # reachable, or why not
    unreachable: str | None = None  # why the cluster did not answer; the task then exits 5
    releases: list[dict] = field(default_factory=list)  # name, namespace, revision, status / health
    deploys: list[dict] = field(default_factory=list)  # newest first
    last_drill: dict | None = None  # scenario, result, started, age_seconds, rto/rpo achieved


def last_drill(name: str) -> dict | None:
    """The newest disaster-recovery drill of an environment, from its report."""
    report = drills.last_report(name)
    if report is None:
        return None
    started = datetime.fromisoformat(report["started"])
    return {
        "scenario": report["scenario"], "result": report["result"], "started": report["started"],
        "age_seconds": round((datetime.now(UTC) - started).total_seconds()),
        "rto_seconds": (report.get("rto") or {}).get("achieved_seconds"),
        "rpo_seconds": (report.get("rpo") or {}).get("achieved_seconds"),
        "report": report["files"][1] if report.get("files") else None,
    }  # fmt: skip


def drill_line(drill: dict | None) -> str:
    """`database-failure pass, 2h ago (RTO 2.857s, RPO 0.002s)`, for `invoke status`."""
    if drill is None:
        return "none recorded (invoke dr.drill)"
    measured = ", ".join(
        f"{name} {drill[f'{name.lower()}_seconds']:.3f}s" for name in ("RTO", "RPO")
        if drill[f"{name.lower()}_seconds"] is not None
    )  # fmt: skip
    age = output.duration(max(0, drill["age_seconds"]))
    return f"{drill['scenario']} {drill['result']}, {age} ago ({measured or 'not measured'})"


def audit_trail(name: str, limit: int = 5) -> list[dict]:
    """The newest audit records of an environment (deploys, applies, rollbacks)."""
    records = []
    for path in sorted((state_dir() / "audit").glob(f"*-{name}-*.json"), reverse=True):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("environment") != name:
            continue  # "staging-..." must not match "stag"
        records.append(
            {
                "when": data.get("started") or path.name[:16],
                "action": data.get("action"),
                "actor": data.get("actor"),
                "commit": data.get("commit"),
                "result": data.get("result"),
                "seconds": data.get("seconds"),
            }
        )
        if len(records) == limit:
            break
    return records


def status(name: str) -> Status:
    environment = environments.load(name)
    result = Status(environment.name, environment.cloud.value, environment.delivery.value, "")
    result.deploys = audit_trail(name)
    result.last_drill = last_drill(name)
    if environment.cloud is Cloud.LOCAL:
        result.cluster = "none (local servers only)"
        result.releases = [
            {"name": server.name, "namespace": None, "revision": None, "status": server.state}
            for server in local.status()
        ]
        return result
    try:
        cluster.require_reachable(environment)
    except cluster.ClusterUnreachable as error:
        result.cluster, result.unreachable = f"unreachable: {error.message}", error.message
        result.releases = [
            {"name": release.name, "namespace": release.namespace, "revision": None, "status": "unknown"}
            for release in catalog.releases_for(environment)
        ]
        return result
    result.cluster = f"reachable (context {cluster.context(environment)})"
    if environment.delivery is Delivery.GITOPS:
        for item in cluster.applications(environment):
            state = item.get("status", {})
            sync, health = state.get("sync", {}), state.get("health", {})
            result.releases.append(
                {
                    "name": item["metadata"]["name"],
                    "namespace": item["spec"]["destination"]["namespace"],
                    "revision": (sync.get("revision") or "")[:12] or None,
                    "status": f"{sync.get('status', 'Unknown')}/{health.get('status', 'Unknown')}",
                }
            )
        return result
    namespaces = set(environment.namespaces.values())
    result.releases = [
        {
            "name": item["name"],
            "namespace": item["namespace"],
            "revision": item["revision"],
            "status": item["status"],
        }
        for item in cluster.helm_releases(environment)
        if item["namespace"] in namespaces
    ]
    return result


def rollback(name: str, release: str | None, to_revision: int | None, confirm: str | None) -> AuditRecord:
    """Step one release back (or every release of a Helm environment, newest wave first)."""
    environment = environments.load(name)
    if to_revision is not None and release is None:
        raise OpsError("--to-revision needs --release: revisions belong to one release")
    if to_revision is not None and to_revision < 1:
        raise OpsError(f"--to-revision must be a revision number (1 or more), not {to_revision}")
    known = catalog.releases_for(environment)
    targets = catalog.select(known, (release,)) if release else list(reversed(known))
    if environment.cloud is Cloud.LOCAL:
        raise OpsError("local has no Kubernetes releases to roll back (its servers are not Helm releases)")
    if environment.delivery is Delivery.GITOPS and release is None:
        raise OpsError(
            f"{name} is delivered by Argo CD: name the application with --release, or revert the commit "
            "in git to roll everything back (seed 002)"
        )
    arguments = {"release": release, "to_revision": to_revision}
    with Run("rollback", environment, arguments, confirm) as run:
        steps = [Step("cluster reachable", lambda: cluster.answers(environment))]
        steps += [_rollback_step(environment, target, to_revision, run.record.actor) for target in targets]
        run.execute(steps)
    return run.record


def _rollback_step(
    environment: Environment, release: catalog.Release, to_revision: int | None, requester: str
) -> Step:
    if environment.delivery is Delivery.GITOPS:
        return Step(
            f"rollback {release.name}",
            lambda: cluster.rollback_application(environment, release.name, to_revision, requester),
        )
    return Step(
        f"rollback {release.name}", lambda: cluster.rollback_release(environment, release, to_revision)
    )
