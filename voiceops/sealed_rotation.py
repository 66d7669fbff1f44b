"""`secrets.rotate` on Linode, whose store is git: the sealed manifests under
secrets/sealed/<env>/ are the current values the cluster gets (Argo CD syncs `main`, the Sealed
Secrets controller writes the Secrets, Reloader rolls the readers), and the private key of the
sealing pair, in the cluster's `sealing-keys` bucket, reads them back.

`SealedStore` gives the rotation the part of Secrets Manager's API it uses, so the same steps
and the same resumable protocol run here: each rotated secret's versions (sealed, never
plaintext), their stages and the rotation's tags are kept in
secrets/sealed/<env>/rotation/<secret>.yaml, which no chart renders; a promotion reseals the
secret's manifests in every namespace with the new current version.

Nothing reaches the readers until the change is committed and pushed to the branch Argo CD
syncs, so the grace period starts only once it is there: until then the run stops (exit 5) and
says what to commit; run it again after the push. The servers' users are set as on the clouds
(linode_servers: the managed PostgreSQL databases, the in-cluster RabbitMQ and platform-redis);
what they read at boot is derived from the store and delivered with the values."""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from voiceops import (
    aws_rotation,
    cloud_drills,
    gitops,
    linode_servers,
    resolved,
    sealing,
    sealing_keys,
    secret_bundles,
    secret_versions,
)
from voiceops.environments import Environment
from voiceops.errors import OpsError
from voiceops.runs import RunIncomplete
from voiceops.secret_bundles import SEALED_AT, Store
from voiceops.secret_versions import (
    CURRENT,
    ROTATED_TAG,
    ROTATION_TAG,
    DocumentStore,
    ResourceNotFoundException,
    published,
)
from voiceops.toolchain import shown

ARGOCD_SYNC_SECONDS = 180.0  # Argo CD's default reconciliation: how late it sees a pushed commit
# the seal label of a version: no SealedSecret unseals it, as no namespace may hold a colon
VERSIONS_NAMESPACE = "voiceops:rotation"
GIT_TIMEOUT_SECONDS = 120
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where PyYAML has it
DELIVERED_TAG = "voiceops:delivered"  # the rotation whose promotion reached the synced branch


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS, check=False
    )


def synced_ref(branch: str = gitops.TARGET_REVISION) -> str:
    """The remote's branch Argo CD syncs, as last fetched (a local branch of that name is not it)."""
    return f"refs/remotes/origin/{branch}"


def minimum_grace() -> float:
    """After the push: Argo CD sees it, then Reloader rolls every reader."""
    return ARGOCD_SYNC_SECONDS + aws_rotation.ROLLOUT_SECONDS


class SealedStore(DocumentStore):
    """A Linode environment's sealed secrets as a store the rotation drives; an entry is the
    secret's name, and its document is the rotation's file."""

    def __init__(
        self, environment: Environment, certificate_pem: bytes, private_key_pem: bytes,
        sealed_dir: Path | None = None,
    ) -> None:  # fmt: skip
        self.environment = environment
        self.certificate = certificate_pem
        self.private_key = private_key_pem
        self.sealed_dir = (sealed_dir or secret_bundles.SEALED_DIR) / environment.name
        self._plain: dict[tuple[str, bytes], bytes] = {}
        self._parsed: dict[str, dict] = {}
        self.read: dict[str, list[secret_bundles.Materialized]] = {}
        for item in secret_bundles.for_environment(environment):
            if item.declared.store is Store.SEALED_SECRET:
                self.read.setdefault(item.name, []).append(item)

    # --- where things are -----------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The checkout holding the sealed manifests and the resolved environments."""
        return self.sealed_dir.parents[2]

    def delivered_files(self, names: list[str]) -> list[Path]:
        """What Argo CD must sync for the readers to get the promoted values."""
        resolved_file = self.root / "environments" / "resolved" / f"{self.environment.name}.json"
        return [path for name in names for path in self.manifests(name)] + [resolved_file]

    def versions_file(self, name: str) -> Path:
        return self.sealed_dir / "rotation" / f"{name}.yaml"

    def manifests(self, name: str) -> list[Path]:
        return [self.sealed_dir / f"{item.namespace}.{name}.yaml" for item in self._items(name)]

    def _items(self, name: str) -> list[secret_bundles.Materialized]:
        if name not in self.read:
            raise ResourceNotFoundException(f"{self.environment.name} reads no sealed secret {name}")
        return self.read[name]

    def _label(self, name: str) -> bytes:
        return sealing.label(VERSIONS_NAMESPACE, f"{self.environment.name}.{name}")

    # --- the state of one secret ----------------------------------------------------------------

    def _manifest(self, path: Path) -> dict:
        """A file's document, parsed once per content: every call reads the state anew."""
        if not path.is_file():
            return {}
        text = path.read_text()
        if text not in self._parsed:
            self._parsed[text] = yaml.load(text, Loader=YAML_LOADER) or {}  # noqa: S506 - a safe loader (libyaml)
        return copy.deepcopy(self._parsed[text])

    def _sealed(self, name: str) -> list[dict[str, str]]:
        """Each namespace's manifest ciphertext, by key."""
        return [
            dict(((self._manifest(path).get("spec") or {}).get("encryptedData")) or {})
            for path in self.manifests(name)
        ]

    def any_sealed(self, name: str) -> bool:
        """Whether a value, even part of one, is sealed for the secret: readers may use it."""
        return any(self._sealed(name))

    def _held(self, name: str) -> list[dict[str, str]]:
        """The values each namespace's manifest holds, by key (empty where nothing is sealed)."""
        held = []
        for item, data in zip(self._items(name), self._sealed(name), strict=True):
            bound = sealing.label(item.namespace, name)
            held.append({key: self._unsealed(value, bound).decode() for key, value in data.items()})
        return held

    def _committed(self, name: str, held: list[dict[str, str]]) -> dict:
        """The manifests' value as the only version: sealed, edited or rolled back by hand. Every
        namespace must hold the same one: which to keep is not for the rotation to guess."""
        if differing := [item.namespace for item, values in zip(self._items(name), held, strict=True)
                         if values != held[0]]:  # fmt: skip
            raise OpsError(
                f"{name}: {self._items(name)[0].namespace} and {', '.join(differing)} hold different "
                "values: seal one value in every namespace (invoke secrets.seal), then rotate"
            )
        digest = hashlib.sha256(json.dumps(self._sealed(name)[0], sort_keys=True).encode()).hexdigest()[:32]
        document = self._manifest(self.manifests(name)[0])
        stamp = ((document.get("metadata") or {}).get("annotations") or {}).get(SEALED_AT)
        version = {"id": f"sealed-{digest}", "stages": [CURRENT], "value": self._encode(name, held[0])}
        return {
            "secret": name, "tags": {ROTATED_TAG: stamp} if stamp else {},
            "versions": [version | ({"sealed_at": stamp} if stamp else {})],
        }  # fmt: skip

    def _state(self, name: str) -> dict:
        """The secret's versions and tags. The rotation's file holds them while every manifest
        holds its current value, or, until a rotation in flight reached main, any of its values
        (a run died while resealing them). Otherwise the manifests were changed by hand since
        (sealed, edited or rolled back) and their value is the only version."""
        path = self.versions_file(name)
        held = self._held(name)
        state = self._manifest(path) or None
        if not any(held):
            return state or {"secret": name, "tags": {}, "versions": []}  # a first value, or none
        if state:
            values = [self._decode(name, version) for version in state["versions"]]
            current = [found for version, found in zip(state["versions"], values, strict=True)
                       if published(version)]  # fmt: skip
            if current and all(_holds(namespace, current[0]) for namespace in held):
                return state
            token = state["tags"].get(ROTATION_TAG)
            undelivered = token and state["tags"].get(DELIVERED_TAG) != token
            if undelivered and current and self._reached_main(name, _published_id(state)):
                undelivered = False  # readers had it: the manifests were changed on main since (a rollback)
            if undelivered and all(
                not namespace or any(_holds(namespace, found) for found in values) for namespace in held
            ):
                return state
        return self._committed(name, held)

    def _reached_main(self, name: str, version: str) -> bool:
        """Whether a manifest holding this version was ever on the synced branch: the delivered
        tag is written by the run that saw it there, which a rollback on main may come before."""
        if _git(self.root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true":
            raise RunIncomplete(
                f"{name}: this checkout is shallow, so whether its values reached main cannot be read "
                "(git fetch --unshallow origin); nothing was changed"
            )
        paths = [path.relative_to(self.root).as_posix() for path in self.manifests(name)]
        found = _git(self.root, "log", "--format=%H", "-S", version, synced_ref(), "--", *paths)
        return found.returncode == 0 and bool(found.stdout.strip())

    def _save(self, name: str, state: dict) -> None:
        """The versions first, then the manifests from the current version, so a crash between
        the two is repaired by the next write (the manifests follow the versions)."""
        state["versions"] = [version for version in state["versions"] if version["stages"]]
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        for version in state["versions"]:
            if published(version):
                version.setdefault("sealed_at", now)  # when it became the manifests' value
        path = self.versions_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".new")
        header = f"# Rotation state of {name} in {self.environment.name} (secrets.rotate): ciphertext only.\n"
        staged.write_text(header + yaml.safe_dump(state, sort_keys=False))
        staged.replace(path)
        self._publish(name, state)

    def _publish(self, name: str, state: dict) -> None:
        """Every namespace's manifest reseals the current version unless it holds it, and the
        resolved environment, which carries the sealed data to the base chart, follows them."""
        current = next((version for version in state["versions"] if published(version)), None)
        if current is None:
            return  # a first version is published when it is promoted
        values = self._decode(name, current)
        held = self._held(name)
        if not all(_holds(namespace, values) for namespace in held):
            # every key of the version, but one the rotation keeps as it was keeps its date (the audit's)
            same = {key for key, value in values.items() if all(n.get(key) == value for n in held)}
            kept = linode_servers.KEPT_KEYS.get(name, frozenset()) & same
            encoded = {key: value.encode() for key, value in values.items() if key not in kept}
            secret_bundles.seal_values(
                self.environment, self._items(name)[0].declared.bundle, name, encoded, self.certificate,
                sealed_dir=self.sealed_dir.parent, version=current["id"], sealed_at=current.get("sealed_at"),
            )  # fmt: skip
        resolved_file = self.root / "environments" / "resolved" / f"{self.environment.name}.json"
        listed = json.loads(resolved_file.read_text()) if resolved_file.is_file() else {}
        rendered = {
            entry["namespace"]: entry.get("sealed")
            for entry in listed.get("secrets") or []
            if entry.get("name") == name
        }
        if [rendered.get(item.namespace) for item in self._items(name)] != self._sealed(name):
            resolved_file.parent.mkdir(parents=True, exist_ok=True)
            resolved_file.write_text(resolved.render_json(resolved.resolve(self.environment)))

    def settle(self, names: list[str]) -> None:
        """Reseal what a run that died between the versions and the manifests left behind."""
        for name in names:
            self._publish(name, self._state(name))

    def _encode(self, name: str, values: dict[str, str]) -> str:
        return sealing.seal(self.certificate, json.dumps(values).encode(), self._label(name))

    def _decode(self, name: str, version: dict) -> dict[str, str]:
        return json.loads(self._unsealed(version["value"], self._label(name)))

    def _unsealed(self, sealed: str, bound: bytes) -> bytes:
        """Each ciphertext is unsealed once: every call reads the state anew, and RSA is slow."""
        if (sealed, bound) not in self._plain:
            self._plain[sealed, bound] = sealing.unseal(self.private_key, sealed, bound)
        return self._plain[sealed, bound]


def _published_id(state: dict) -> str:
    return next(version["id"] for version in state["versions"] if published(version))


def _holds(held: dict[str, str], values: dict[str, str]) -> bool:
    """Whether a manifest holds these values (keys it holds besides them were sealed before)."""
    return bool(values) and all(held.get(key) == value for key, value in values.items())


def store(environment: Environment) -> SealedStore:
    """The environment's sealed secrets, readable: the committed certificate and, from the
    cluster's bucket, its private key; one line and exit 5 without them."""
    manifest = sealing_keys.key_manifest(environment.name)
    if manifest is None:
        raise RunIncomplete(
            f"{environment.name}: no sealing certificate is committed (invoke secrets.sealing-key); "
            "nothing was changed"
        )
    certificate = base64.b64decode(manifest["data"]["tls.crt"])
    private_key = base64.b64decode(manifest["data"]["tls.key"])
    return SealedStore(environment, certificate, private_key)


class Delivery:
    """The readers get the promoted values once Argo CD syncs them from `main`: the rotation
    waits for them to be committed and on the remote's `main`, and starts the grace there."""

    def __init__(self, store: SealedStore, names: list[str], branch: str = gitops.TARGET_REVISION) -> None:
        self.store = store
        self.names = names
        self.branch = branch

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _git(self.store.root, *args)

    def where(self) -> str:
        """The line that says what the operator commits and pushes."""
        return " ".join(sorted({shown(path.parent) for path in self.store.delivered_files(self.names)}))

    def check(self) -> str:
        """Whether the promoted files are on `main` as they are here (however they got there: a
        push, a merged or squashed pull request); until then the run stops (exit 5)."""
        paths = [path for path in self.store.delivered_files(self.names) if path.exists()]
        if not paths:
            return "nothing promoted to deliver"
        origin = self._git("remote", "get-url", "origin").stdout.strip()
        if not cloud_drills.emulated() and _repository(origin) != _repository(gitops.REPO_URL):
            raise RunIncomplete(
                f"origin is {origin or 'not set'}, not {gitops.REPO_URL}, the repository Argo CD syncs: "
                "run from its checkout; the previous values stay valid"
            )
        # what is there now, not what was last fetched: main may have been reverted or force-pushed
        fetched = self._git("fetch", "--quiet", "origin", f"+{self.branch}:{synced_ref(self.branch)}")
        if fetched.returncode != 0:
            line = (fetched.stderr.strip().splitlines() or ["no answer"])[-1]
            raise RunIncomplete(f"cannot read origin/{self.branch} ({line}); the previous values stay valid")
        if not self._on_branch(paths):
            raise RunIncomplete(
                f"promoted in {self.where()}: commit those files and bring them to {self.branch} (push, "
                "or merge the pull request), then run secrets.rotate again; the previous values stay "
                "valid until then"
            )
        return (
            f"the promoted files are on origin/{self.branch}: Argo CD syncs them, Reloader rolls the readers"
        )

    def _on_branch(self, paths: list[Path]) -> bool:
        for path in paths:
            relative = path.relative_to(self.store.root).as_posix()
            there = self._git("show", f"{synced_ref(self.branch)}:{relative}")
            if there.returncode != 0 or there.stdout != path.read_text():
                return False
        return True

    def pick_up(self) -> str:
        """Once delivered, the grace starts: each promoted entry's promotion is dated then."""
        self.store.settle(self.names)
        line = self.check()
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        for name in self.names:
            tags = secret_versions.tags(self.store, name)
            token = tags.get(secret_versions.ROTATION_TAG)
            if token and tags.get(DELIVERED_TAG) != token and tags.get(secret_versions.PROMOTED_TAG):
                stamps = {DELIVERED_TAG: token, secret_versions.PROMOTED_TAG: now}
                self.store.tag_resource(
                    SecretId=name, Tags=[{"Key": key, "Value": value} for key, value in stamps.items()]
                )
        return line

    def remaining(self) -> str:
        """What is left to commit after a run: the rotation's state, and values it rewrote after
        the promotion (RabbitMQ's definitions without the retired users)."""
        paths = [str(path) for name in self.names if (path := self.store.versions_file(name)).exists()]
        if not paths or not self._git("status", "--porcelain", "--", *paths).stdout.strip():
            return ""
        delivered = [str(path) for path in self.store.delivered_files(self.names) if path.exists()]
        if delivered and self._git("status", "--porcelain", "--", *delivered).stdout.strip():
            return f"commit {self.where()} and bring them to {self.branch} (the rotation's state and values)"
        return f"commit {shown(self.store.sealed_dir / 'rotation')} (the rotation's state)"


def _repository(url: str) -> str:
    """host/owner/name of a git remote, however it is written (https, ssh, scp-like)."""
    address = url.strip().removesuffix("/").removesuffix(".git")
    for scheme in ("https://", "http://", "ssh://", "git://"):
        address = address.removeprefix(scheme)
    address = address.split("@", 1)[-1]  # a user part (git@)
    return address.replace(":", "/", 1).lower() if "/" in address else address.lower()


def precheck(environment: Environment, targets: list[Any], grace: float | None) -> float:
    """Before the store is read: what can rotate here at all, and the grace once delivered."""
    if reasons := aws_rotation.not_rotatable(environment, targets, linode_servers.SETS):
        raise OpsError(f"not rotated, nothing was changed: {'; '.join(reasons)}")
    least = 0.0 if cloud_drills.emulated() else minimum_grace()  # an emulated bucket: a test
    if grace is None:
        return minimum_grace()
    if grace < least:
        raise OpsError(
            f"--grace {grace:.0f}s is shorter than Argo CD's sync plus a rollout ({least:.0f}s): "
            "readers may still hold the previous values"
        )
    return grace


def refused(environment: Environment, targets: list[Any], store: SealedStore) -> list[str]:
    """Secrets whose value a server checks, once readers depend on it (on any part of it)."""
    complete = aws_rotation.has_value(environment, store)

    def in_use(name: str) -> bool:
        return complete(name) or (store.any_sealed(name) and not _in_flight(store, name))

    return aws_rotation.unsafe(targets, in_use, environment.cloud.value)


def _in_flight(store: SealedStore, name: str) -> bool:
    return ROTATION_TAG in secret_versions.tags(store, name)
