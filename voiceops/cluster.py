"""The cluster side of deploy, rollback and status: reachability, kubectl and helm
against an environment's context, Helm installs in waves, Argo CD sync and rollback, and release health.

The kube context of an environment is named after its cluster (registry
cluster.name), as `aws eks update-kubeconfig --alias`, `az aks get-credentials
--context` and the LKE kubeconfig set it up. Without a reachable cluster every
function here says so in one line (ClusterUnreachable) and changes nothing.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from voiceops import catalog, gitops, render, toolchain
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError


class ClusterUnreachable(OpsError):
    exit_code = 5


def context(environment: Environment) -> str:
    if environment.cloud is Cloud.LOCAL:
        return f"kind-{environment.cluster.name}"  # kind prefixes the contexts it writes
    return environment.cluster.name


def ensure_kind_cluster(environment: Environment) -> str:
    """Create the local kind cluster unless it exists (idempotent); needs docker and kind."""
    kind = _tool("kind")
    existing = _run([kind, "get", "clusters"], timeout=60).stdout.split()
    if environment.cluster.name in existing:
        return f"kind cluster {environment.cluster.name} exists"
    created = _run(
        [kind, "create", "cluster", "--name", environment.cluster.name, "--wait", "180s"], timeout=600
    )
    if created.returncode != 0:
        raise OpsError(f"kind create cluster failed: {created.stderr.strip().splitlines()[-1:]}")
    return f"kind cluster {environment.cluster.name} created"


def _tool(name: str) -> str:
    return toolchain.require(name, ClusterUnreachable)


def _run(
    command: list[str], timeout: float = 600, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout, input=stdin)


def kubectl(
    environment: Environment, *args: str, timeout: float = 120, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return _run([_tool("kubectl"), "--context", context(environment), *args], timeout, stdin)


def helm(environment: Environment, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return _run([_tool("helm"), "--kube-context", context(environment), *args], timeout)


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1].strip() if lines else f"exit {result.returncode}"


def answers(environment: Environment) -> str:
    """A step's detail once the cluster answered (ClusterUnreachable, exit 5, when it does not)."""
    require_reachable(environment)
    return f"context {context(environment)} answers"


def require_reachable(environment: Environment) -> None:
    result = kubectl(environment, "version", "--request-timeout=5s", "-o", "json", timeout=30)
    if result.returncode != 0:
        first = next((line for line in result.stderr.splitlines() if line.strip()), "no answer")
        raise ClusterUnreachable(
            f"no cluster reachable through kube context {context(environment)!r} ({first.strip()[:160]})"
        )


# --- Helm in waves ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseChange:
    release: str
    namespace: str
    previous_revision: int | None  # None: the release did not exist before


def current_revision(environment: Environment, release: catalog.Release) -> int | None:
    """The release's revision; None only when helm says it does not exist (then undo uninstalls)."""
    result = helm(environment, "status", release.name, "-n", release.namespace, "-o", "json", timeout=60)
    if result.returncode == 0:
        return int(json.loads(result.stdout)["version"])
    if "not found" in result.stderr:
        return None
    raise OpsError(f"helm status {release.name}: {last_line(result)}")


def upgrade_command(environment: Environment, release: catalog.Release) -> list[str]:
    """`helm upgrade --install`, rolled back on failure within the catalog timeout, values layered as
    `invoke render` does. (Helm 4 renamed --atomic to --rollback-on-failure.)"""
    source = release.chart
    oci = str(source.repository).startswith("oci://")
    if source.path:
        chart = str(render.ROOT / source.path)
    else:  # an OCI registry is part of the chart reference: helm's --repo takes only HTTP repositories
        chart = f"{source.repository}/{source.name}" if oci else str(source.name)
    # no --create-namespace: the `namespaces` release owns every namespace (charts/releases.yaml)
    command = ["upgrade", "--install", release.name, chart, "--namespace", release.namespace,
               "--rollback-on-failure", "--wait", "--timeout", release.spec.timeout]  # fmt: skip
    if not source.local:
        command += ([] if oci else ["--repo", str(source.repository)]) + ["--version", str(source.version)]
    return command + catalog.values_arguments(environment, release)


def install_waves(
    environment: Environment, releases: list[catalog.Release], report: Callable[[str], None]
) -> tuple[str, Callable[[], None]]:
    """Install wave after wave, a wave's releases in parallel; the undo rolls back what changed."""
    changes: list[ReleaseChange] = []

    def undo() -> None:
        """Newest change first: uninstall what was new, roll back what existed; try every one."""
        problems = []
        for change in reversed(changes):
            if change.previous_revision is None:
                result = helm(environment, "uninstall", change.release, "-n", change.namespace, "--wait")
            else:
                result = helm(environment, "rollback", change.release, str(change.previous_revision),
                              "-n", change.namespace, "--wait")  # fmt: skip
            if result.returncode != 0:
                problems.append(f"{change.release}: {last_line(result)}")
            else:
                report(f"undone: {change.release}")
        if problems:
            raise OpsError(f"could not undo {len(problems)} release(s): {'; '.join(problems)}")

    def install(release: catalog.Release) -> tuple[catalog.Release, int | None, str | None]:
        """One release; its error line instead of an exception, so the wave's undo always runs."""
        try:
            previous = current_revision(environment, release)
            if release.chart.local:
                render.build_dependencies(render.ROOT / str(release.chart.path))
            result = helm(environment, *upgrade_command(environment, release))
        except (OpsError, subprocess.TimeoutExpired) as error:
            return release, None, str(error)
        return release, previous, None if result.returncode == 0 else last_line(result)

    for wave in catalog.waves(releases):
        number = wave[0].wave
        report(f"wave {number}: {', '.join(release.name for release in wave)}")
        with ThreadPoolExecutor(max_workers=min(8, len(wave))) as pool:
            results = list(pool.map(install, wave))
        failed = []
        for release, previous, problem in results:
            if problem is None:
                changes.append(ReleaseChange(release.name, release.namespace, previous))
            else:
                failed.append(f"{release.name}: {problem}")
        if failed:
            try:
                undo()
            except OpsError as error:
                raise OpsError(f"wave {number} failed ({'; '.join(failed)}); {error.message}") from error
            raise OpsError(
                f"wave {number} failed ({'; '.join(failed)}); the releases it and earlier waves changed "
                "were rolled back, newest first"
            )
    return f"{len(changes)} releases installed in {len(catalog.waves(releases))} waves", undo


# --- Argo CD ------------------------------------------------------------------------------------


def applications(environment: Environment) -> list[dict]:
    result = kubectl(
        environment, "get", "applications.argoproj.io", "-n", gitops.argocd_namespace(environment),
        "-l", f"voiceops.io/environment={environment.name}", "-o", "json",
    )  # fmt: skip
    if result.returncode != 0:
        raise OpsError(f"cannot list Argo CD applications: {result.stderr.strip()[:200]}")
    return json.loads(result.stdout)["items"]


def sync_application(environment: Environment, name: str, revision: str, requester: str) -> None:
    """Ask Argo CD to sync one application to a revision (the `operation` field its CLI sets)."""
    operation = {"operation": {"initiatedBy": {"username": requester}, "sync": {"revision": revision}}}
    namespace = gitops.argocd_namespace(environment)
    result = kubectl(environment, "patch", "applications.argoproj.io", name, "-n", namespace,
                     "--type", "merge", "-p", json.dumps(operation))  # fmt: skip
    if result.returncode != 0:
        raise OpsError(f"{name}: sync request refused: {result.stderr.strip()[:200]}")


def wait_healthy(environment: Environment, names: list[str], timeout: float = 900) -> str:
    """Wait until every named application is Synced and Healthy."""
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for item in applications(environment):
            status = item.get("status", {})
            if (
                status.get("health", {}).get("status") == "Healthy"
                and status.get("sync", {}).get("status") == "Synced"
            ):
                pending.discard(item["metadata"]["name"])
        if pending:
            time.sleep(10)
    if pending:
        raise OpsError(f"not healthy after {timeout:.0f}s: {', '.join(sorted(pending))}")
    return f"{len(names)} application(s) synced and healthy"


def rollback_application(
    environment: Environment, release: str, to_revision: int | None, requester: str
) -> str:
    """Argo CD rollback: sync to an earlier entry of the application's history (seed 002)."""
    name = gitops.application_name(environment, release)
    item = next((app for app in applications(environment) if app["metadata"]["name"] == name), None)
    if item is None:
        raise OpsError(f"no Argo CD application {name} in {environment.name}")
    if item.get("spec", {}).get("syncPolicy", {}).get("automated"):
        raise OpsError(f"{name} syncs automatically: revert the commit in git instead (seed 002's rollback)")
    history = item.get("status", {}).get("history", [])
    if len(history) < 2 and to_revision is None:
        raise OpsError(f"{name} has no earlier revision to roll back to")
    entry = next((h for h in history if h.get("id") == to_revision), None) if to_revision else history[-2]
    if entry is None:
        raise OpsError(f"{name} has no history entry {to_revision}; known: {[h.get('id') for h in history]}")
    sync_application(environment, name, entry["revision"], requester)
    return (
        wait_healthy(environment, [name])
        + f"; {name} at {entry['revision'][:12]} (history {entry.get('id')})"
    )


def rollback_release(environment: Environment, release: catalog.Release, to_revision: int | None) -> str:
    args = ["rollback", release.name] + ([str(to_revision)] if to_revision else [])
    result = helm(environment, *args, "-n", release.namespace, "--wait", "--timeout", release.spec.timeout)
    if result.returncode != 0:
        raise OpsError(f"helm rollback {release.name} failed: {result.stderr.strip()[:200]}")
    status = helm(environment, "status", release.name, "-n", release.namespace, "-o", "json", timeout=60)
    state = json.loads(status.stdout)["info"]["status"] if status.returncode == 0 else "unknown"
    if state != "deployed":
        raise OpsError(f"{release.name} is {state} after the rollback")
    return f"{release.name} rolled back to revision {to_revision or 'previous'}, status deployed"


def delete_load_balancers(environment: Environment) -> str:
    """Delete Services of type LoadBalancer so the cloud removes their balancers before the network goes."""
    try:
        require_reachable(environment)
    except ClusterUnreachable as error:
        return f"skipped: {error.message} (a deleted cluster has no balancers left)"
    listing = kubectl(environment, "get", "services", "--all-namespaces", "-o", "json")
    if listing.returncode != 0:
        raise OpsError(f"cannot list services: {listing.stderr.strip()[:200]}")
    services = [
        item["metadata"]
        for item in json.loads(listing.stdout)["items"]
        if item["spec"].get("type") == "LoadBalancer"
    ]
    for meta in services:
        deleted = kubectl(
            environment, "delete", "service", "-n", meta["namespace"], meta["name"], "--wait=true"
        )
        if deleted.returncode != 0:
            raise OpsError(
                f"cannot delete service {meta['namespace']}/{meta['name']}: {deleted.stderr.strip()[:200]}"
            )
    return f"{len(services)} LoadBalancer service(s) deleted"


def helm_releases(environment: Environment) -> list[dict]:
    result = helm(environment, "list", "--all-namespaces", "-o", "json", timeout=60)
    if result.returncode != 0:
        raise ClusterUnreachable(f"helm list failed: {result.stderr.strip()[:200]}")
    return json.loads(result.stdout)
