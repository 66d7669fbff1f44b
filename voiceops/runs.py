"""One run of a mutating task (deploy, tf.apply, tf.destroy, rollback, and every later task
that changes an environment): approval, the environment lock (a file lock, plus a
Kubernetes Lease when the cluster is reachable), who and at which commit, timed steps
with undo of completed changes on failure, and a typed audit record written however
the run ends.

Everything a run calls assumes the caller holds the run: nothing inside takes the lock again.
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from filelock import FileLock, Timeout

from voiceops import cluster, output
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT, state_dir

APPROVAL_VARIABLE = "VOICEOPS_APPROVED_ENVIRONMENT"
LEASE_SECONDS = 1800  # longer than the slowest release timeout; a crashed run's Lease expires


class ApprovalRequired(OpsError):
    exit_code = 3


class EnvironmentLocked(OpsError):
    exit_code = 4


class StepFailed(OpsError):
    pass


class RunIncomplete(OpsError):
    """A step the environment needs could not run here (no credentials, providers or cluster)."""

    exit_code = 5


def actor() -> str:
    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def git_commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def approved_ci_job(environment: Environment) -> bool:
    """Whether this is a deploy or drill workflow job that the environment's reviewers approved."""
    approved = os.environ.get(APPROVAL_VARIABLE)
    in_ci = os.environ.get("CI") == "true"
    return bool(approved) and in_ci and approved == environment.approvals.github_environment


def check_approval(environment: Environment, confirm: str | None) -> str:
    """Production-class work needs the typed environment name, or the approved CI job's flag.

    The CI flag is the environment variable VOICEOPS_APPROVED_ENVIRONMENT, which only the
    deploy and drill workflows' jobs set, and only inside the GitHub environment that carries
    the registry's required reviewers.
    """
    if environment.approvals.required == 0 and not environment.production_class:
        return "not required"
    if confirm is not None:
        if confirm != environment.name:
            raise ApprovalRequired(
                f"--confirm {confirm!r} does not match the environment name {environment.name!r}"
            )
        return f"typed confirmation by {actor()}"
    if approved_ci_job(environment):
        reviewers = environment.approvals.required
        return f"GitHub environment {environment.approvals.github_environment} ({reviewers} reviewers)"
    raise ApprovalRequired(
        f"{environment.name} needs {environment.approvals.required} approvals: "
        f"re-run with --confirm {environment.name}, or deploy through the approved CI job"
    )


class EnvironmentLock:
    """A file lock per environment; the holder is written beside it for the error message."""

    def __init__(self, environment: str) -> None:
        locks = state_dir() / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        self.environment = environment
        self.lock = FileLock(locks / f"{environment}.lock")
        self.holder_file = locks / f"{environment}.holder.json"

    def __enter__(self) -> EnvironmentLock:
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise EnvironmentLocked(
                f"another run on {self.environment} is in progress ({self._read_holder()}); "
                "wait for it to finish, nothing was changed"
            ) from None
        holder = {"actor": actor(), "host": socket.gethostname(), "pid": os.getpid(),
                  "since": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
        self.holder_file.write_text(json.dumps(holder))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.holder_file.unlink(missing_ok=True)
        self.lock.release()

    def _read_holder(self) -> str:
        try:
            data = json.loads(self.holder_file.read_text())
        except (OSError, ValueError):
            return "holder unknown"
        return f"pid {data['pid']} by {data['actor']}@{data['host']} since {data['since']}"


# --- the cluster Lease ------------------------------------------------------------------------


def lease_holder(spec: dict, now: datetime) -> str | None:
    """Who holds a Lease spec right now, or None when it is free or expired."""
    holder = spec.get("holderIdentity")
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if not holder or not renewed:
        return None
    expires = datetime.fromisoformat(renewed.replace("Z", "+00:00")) + timedelta(
        seconds=spec.get("leaseDurationSeconds") or LEASE_SECONDS
    )
    return holder if expires > now else None


class ClusterLease:
    """A coordination.k8s.io Lease per environment, so runs from different machines exclude
    each other. Taken with kubectl's optimistic concurrency: `create` fails when someone
    created it first, `replace` with our resourceVersion fails when someone changed it."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.name = f"voiceops-run-{environment.name}"
        # a namespace every cluster has: the first run on a new cluster (gitops.bootstrap, the first
        # deploy) takes the lock before anything creates the environment's own namespaces
        self.namespace = "default"
        self.identity = f"{actor()}@{socket.gethostname()}:{os.getpid()}"

    def _body(self, resource_version: str | None, holder: str | None) -> str:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if resource_version:
            metadata["resourceVersion"] = resource_version
        return json.dumps({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata,
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": LEASE_SECONDS,
                     "acquireTime": stamp, "renewTime": stamp},
        })  # fmt: skip

    def _taken_just_now(self) -> EnvironmentLocked:
        return EnvironmentLocked(f"another run on {self.environment.name} took the cluster lease just now")

    def _kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return cluster.kubectl(self.environment, "--request-timeout=10s", *args, timeout=30, stdin=stdin)
        except subprocess.TimeoutExpired as error:
            raise cluster.ClusterUnreachable(
                f"the cluster did not answer about the lease ({error})"
            ) from None

    def _read(self) -> dict | None:
        found = self._kubectl("get", "lease", self.name, "-n", self.namespace, "-o", "json")
        if found.returncode == 0:
            return json.loads(found.stdout)
        if "NotFound" in found.stderr:
            return None
        raise cluster.ClusterUnreachable(f"cannot read the lease: {found.stderr.strip()[:200]}")

    def _write(
        self, verb: str, resource_version: str | None, holder: str | None
    ) -> subprocess.CompletedProcess:
        return self._kubectl(verb, "-f", "-", stdin=self._body(resource_version, holder))

    def acquire(self) -> str:
        lease = self._read()
        if lease is None:
            created = self._write("create", None, self.identity)
            if created.returncode != 0:
                if "AlreadyExists" in created.stderr:
                    raise self._taken_just_now()
                raise cluster.ClusterUnreachable(f"cannot create the lease: {created.stderr.strip()[:200]}")
            return f"Lease {self.namespace}/{self.name}"
        spec = lease.get("spec") or {}
        holder = lease_holder(spec, datetime.now(UTC))
        if holder and holder != self.identity:
            raise EnvironmentLocked(
                f"another run on {self.environment.name} holds the cluster lease ({holder} since "
                f"{spec.get('acquireTime')}); nothing was changed"
            )
        replaced = self._write("replace", lease["metadata"]["resourceVersion"], self.identity)
        if replaced.returncode != 0:
            if "Conflict" in replaced.stderr or "modified" in replaced.stderr:
                raise self._taken_just_now()
            raise cluster.ClusterUnreachable(f"cannot take the lease: {replaced.stderr.strip()[:200]}")
        return f"Lease {self.namespace}/{self.name}"

    def renew(self) -> None:
        """Between steps: a long run keeps its Lease; one lost meanwhile stops the run."""
        lease = self._read()
        holder = lease_holder((lease or {}).get("spec") or {}, datetime.now(UTC)) if lease else None
        if lease is None or holder not in (None, self.identity):
            raise EnvironmentLocked(
                f"the cluster lease of {self.environment.name} was lost ({holder or 'gone'})"
            )
        renewed = self._write("replace", lease["metadata"]["resourceVersion"], self.identity)
        if renewed.returncode != 0:
            raise EnvironmentLocked(f"the cluster lease of {self.environment.name} could not be renewed")

    def release(self) -> str:
        """Free the Lease only while it is still ours, so another run's Lease is never cleared."""
        try:
            lease = self._read()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return "not released: no longer ours"
            freed = self._write("replace", lease["metadata"]["resourceVersion"], None)
        except OpsError as error:
            return f"not released ({error.message}); it expires by itself"
        if freed.returncode != 0:
            return f"not released ({freed.stderr.strip()[:120]}); it expires by itself"
        return "released"


# --- steps and the audit record -------------------------------------------------------------


@dataclass
class StepRecord:
    name: str
    status: str = "pending"  # ok, skipped, failed, interrupted, undone, undo failed
    seconds: float = 0.0
    detail: str = ""
    essential: bool = False


@dataclass
class Step:
    """One stage of a run. `run` returns a one-line detail; it may return an undo with it."""

    name: str
    run: Callable[[], str | tuple[str, Callable[[], None]]]
    # A run whose essential step was skipped for want of credentials or a cluster is incomplete.
    essential: bool = False


@dataclass
class AuditRecord:
    """What `.state/audit/<stamp>-<env>-<action>.json` holds for every mutating run."""

    action: str
    environment: str
    actor: str
    commit: str
    arguments: dict[str, Any]
    approval: str = "not checked"
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    cluster_lock: str = "none"
    steps: list[StepRecord] = field(default_factory=list)
    result: str = "running"  # succeeded, dry-run, incomplete, failed, interrupted, refused
    error: str | None = None
    seconds: float = 0.0
    finished: str | None = None
    audit_file: str | None = None

    def write(self) -> Path:
        audit_dir = state_dir() / "audit"
        audit_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = audit_dir / f"{stamp}-{self.environment}-{self.action}.json"
        self.audit_file = str(path)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while a short block runs (main thread only: signals are set there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Run:
    """`with Run(...) as run:` approves, locks and audits one mutating run.

    Approval is checked before anything else, then the file lock, then the cluster Lease
    when the environment's cluster answers; a refusal changes nothing and is recorded.
    On leaving, the record gets its result: failed (an OpsError), interrupted (Ctrl-C),
    dry-run, incomplete (an essential step skipped), or succeeded; it is written, and
    the Lease and the lock are released, whatever happened.
    """

    def __init__(
        self,
        action: str,
        environment: Environment,
        arguments: dict[str, Any],
        confirm: str | None = None,
        dry_run: bool = False,
    ) -> None:
        self.environment = environment
        self.dry_run = dry_run
        self.confirm = confirm
        self.record = AuditRecord(action, environment.name, actor(), git_commit(), arguments)
        self._lock = EnvironmentLock(environment.name)
        self._lease: ClusterLease | None = None
        self._started = 0.0

    def __enter__(self) -> Run:
        self._started = time.monotonic()
        try:
            if self.dry_run:
                self.record.approval = "not needed: a dry run changes nothing"
            else:
                self.record.approval = check_approval(self.environment, self.confirm)
            self._lock.__enter__()
        except OpsError as refusal:
            self._refused(refusal)
            raise
        try:
            self.record.cluster_lock = self._take_lease()
        except BaseException as error:
            if self._lease is not None:
                self._lease.release()  # a create that went through before the interrupt
            self._lock.__exit__(None, None, None)
            if isinstance(error, OpsError | KeyboardInterrupt):
                self._refused(error)
            raise
        return self

    def _refused(self, refusal: OpsError | KeyboardInterrupt) -> None:
        """A run turned away before it changed anything is audited too (who tried, and why not)."""
        interrupted = isinstance(refusal, KeyboardInterrupt)
        self.record.result = "interrupted" if interrupted else "refused"
        self.record.error = "interrupted by the user (SIGINT)" if interrupted else refusal.message
        self.record.finished = datetime.now(UTC).isoformat(timespec="seconds")
        self.record.write()

    def _take_lease(self) -> str:
        if self.environment.cloud is Cloud.LOCAL:
            return "none: local has no cluster of its own"
        try:
            cluster.require_reachable(self.environment)
        except cluster.ClusterUnreachable as error:
            return f"none: {error.message}"
        self._lease = ClusterLease(self.environment)
        return self._lease.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        record = self.record
        if isinstance(error, OpsError):
            record.result, record.error = "failed", error.message
        elif isinstance(error, KeyboardInterrupt):
            record.result, record.error = "interrupted", "interrupted by the user (SIGINT)"
        elif error is not None:
            record.result, record.error = "failed", f"{type(error).__name__}: {error}"
        elif self.dry_run:
            record.result = "dry-run"
        elif missing := [
            step.name for step in record.steps if step.essential and step.detail.startswith("skipped:")
        ]:
            record.result, record.error = "incomplete", f"not done here: {', '.join(missing)}"
        else:
            record.result = "succeeded"
        record.seconds = round(time.monotonic() - self._started, 3)
        record.finished = datetime.now(UTC).isoformat(timespec="seconds")
        with _sigint_ignored():  # a second Ctrl-C must not cut the record or the release short
            try:
                if self._lease is not None:
                    record.cluster_lock += f"; {self._lease.release()}"
            finally:
                try:
                    record.write()
                finally:
                    self._lock.__exit__(None, None, None)

    def execute(self, steps: list[Step]) -> None:
        """Run steps in order; on failure undo what earlier steps changed, newest first."""
        undo_stack: list[tuple[StepRecord, Callable[[], None]]] = []
        for step in steps:
            if self._lease is not None:
                self._lease.renew()
            record = StepRecord(step.name, essential=step.essential)
            self.record.steps.append(record)
            started = time.monotonic()
            output.console.print(f"[bold]==>[/bold] {step.name} ...")
            try:
                with output.progress(step.name):
                    result = step.run()
            except Exception as failure:  # any failure: what earlier steps changed is undone
                error = (
                    failure
                    if isinstance(failure, OpsError)
                    else OpsError(f"{type(failure).__name__}: {failure}")
                )
                record.status, record.detail = "failed", error.message
                record.seconds = round(time.monotonic() - started, 3)
                message = f"{step.name} failed: {error.message}"
                for done, undo in reversed(undo_stack):
                    output.console.print(f"    undoing {done.name}")
                    try:
                        undo()
                        done.status = "undone"
                    except Exception as undo_error:
                        done.status = "undo failed"
                        message += f"; undoing {done.name} failed: {undo_error}"
                failed = StepFailed(message)
                failed.exit_code = error.exit_code  # a cluster out of reach stays exit 5 inside a step
                raise failed from failure
            except KeyboardInterrupt:
                record.status, record.detail = "interrupted", "interrupted by the user"
                record.seconds = round(time.monotonic() - started, 3)
                raise
            detail, undo = (result, None) if isinstance(result, str) else result
            record.status = "skipped" if detail.startswith("skipped") else "ok"
            record.detail = detail
            record.seconds = round(time.monotonic() - started, 3)
            if undo is not None:
                undo_stack.append((record, undo))
            shown = detail if record.status == "skipped" else f"ok: {detail}"
            output.console.print(f"    {shown} ({record.seconds:.1f}s)")

    def incomplete_error(self) -> RunIncomplete | None:
        """The error a finished run raises when it could not do everything the environment needs."""
        if self.record.result != "incomplete":
            return None
        return RunIncomplete(
            f"{self.record.action} {self.environment.name} incomplete: {self.record.error} "
            f"(see the skipped steps above; audit: {self.record.audit_file})"
        )
