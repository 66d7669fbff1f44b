"""The key pair we bring to a Linode cluster's Sealed Secrets controller.

The controller would make its own key, which only the cluster holds; we make it instead, so
that sealing works offline and a rebuilt cluster unseals what git holds. The private key goes
only to the backup store, the cluster's `sealing-keys` bucket of Linode Object Storage
(versioned, never expiring), as the controller's own key Secret (a TLS Secret labelled
active); its public certificate is committed under secrets/sealing/<cluster>.pem, and only once
the key is stored and read back. `gitops.bootstrap` applies the key from the store before
Argo CD installs the controller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from voiceops import catalog, environments, sealing, secret_bundles, state_backend
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.toolchain import shown

CONTROLLER_RELEASE = "sealed-secrets"


class SealingKeyError(OpsError):
    pass


class SealingKeyUnavailable(OpsError):
    exit_code = 5  # no credentials, or the store is not there yet


@dataclass(frozen=True)
class Target:
    owner: Environment  # the environment owning the cluster (its stack made the bucket)
    certificate: Path
    bucket: str
    namespace: str  # the controller's


def target(name: str) -> Target:
    environment = environments.load(name)
    owner = environments.cluster_owner(environment)
    if owner.cloud is not Cloud.LINODE or owner.terraform is None:
        raise SealingKeyError(
            f"{name} keeps its secrets in its cloud's store, not sealed: it needs no sealing key"
        )
    release = next((item for item in catalog.releases_for(owner) if item.name == CONTROLLER_RELEASE), None)
    if release is None:
        raise SealingKeyError(f"{owner.name} does not install {CONTROLLER_RELEASE}")
    bucket = f"{owner.terraform.workload}-{owner.terraform.stage}-sealing-keys"
    return Target(owner, secret_bundles.sealing_certificate(environment), bucket, release.namespace)


def fingerprint(certificate_pem: bytes) -> str:
    return hashlib.sha256(certificate_pem).hexdigest()[:16]


def object_key(target_: Target, certificate_pem: bytes) -> str:
    return f"{target_.owner.cluster.name}/{fingerprint(certificate_pem)}.yaml"


def _client(target_: Target):  # boto3's client type is generated at run time
    missing = state_backend.missing_s3_credentials(Cloud.LINODE)
    if missing:
        raise SealingKeyUnavailable(f"{target_.owner.name}: {missing}; nothing was changed")
    s3 = state_backend.s3_client(target_.owner, target_.owner.regions.primary)
    from botocore.exceptions import BotoCoreError, ClientError  # with boto3, only where used

    try:
        s3.head_bucket(Bucket=target_.bucket)
    except (BotoCoreError, ClientError) as error:
        raise SealingKeyUnavailable(
            f"bucket {target_.bucket} not reachable ({error}): the Linode stack creates it; "
            "nothing was changed"
        ) from None
    return s3


def _stored(s3, target_: Target, key: str) -> bytes | None:
    from botocore.exceptions import ClientError

    try:
        return s3.get_object(Bucket=target_.bucket, Key=key)["Body"].read()
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in ("NoSuchKey", "404"):
            return None
        raise


def ensure(name: str, dry_run: bool = False, bits: int = sealing.KEY_BITS) -> str:
    """Make the cluster's key pair unless it exists: the private key to the store first, read
    back, then the certificate into the repository. Idempotent; refuses a committed certificate
    whose key the store does not hold."""
    target_ = target(name)
    s3 = _client(target_)
    if target_.certificate.is_file():
        certificate = target_.certificate.read_bytes()
        key = object_key(target_, certificate)
        if _stored(s3, target_, key) is None:
            raise SealingKeyError(
                f"{shown(target_.certificate)} is committed but {target_.bucket}/{key} is missing: restore "
                "the key from a backup, or remove the certificate and reseal every secret with a new pair"
            )
        return f"in place: {shown(target_.certificate)}, its key in {target_.bucket}/{key}"
    if dry_run:
        where = shown(target_.certificate)
        return f"would make a key pair, store its key in {target_.bucket} and commit {where}"
    certificate, private_key = sealing.new_key_pair(target_.owner.cluster.name, bits=bits)
    key = object_key(target_, certificate)
    manifest = sealing.key_secret(
        certificate, private_key, target_.namespace, f"sealed-secrets-key-{fingerprint(certificate)}"
    )
    body = yaml.safe_dump(manifest, sort_keys=False).encode()
    s3.put_object(Bucket=target_.bucket, Key=key, Body=body, ContentType="application/yaml")
    if _stored(s3, target_, key) != body:
        raise SealingKeyError(f"{target_.bucket}/{key} does not read back as written: nothing committed")
    target_.certificate.parent.mkdir(parents=True, exist_ok=True)
    staged = target_.certificate.with_suffix(".new")
    staged.write_bytes(certificate)
    staged.replace(target_.certificate)
    return f"made: {shown(target_.certificate)} (commit it), its key in {target_.bucket}/{key}"


def key_manifest(name: str) -> dict | None:
    """The controller's key Secret for the committed certificate, from the store; None when no
    certificate is committed (nothing is sealed for the cluster yet)."""
    target_ = target(name)
    if not target_.certificate.is_file():
        return None
    s3 = _client(target_)
    key = object_key(target_, target_.certificate.read_bytes())
    body = _stored(s3, target_, key)
    if body is None:
        raise SealingKeyError(f"{target_.bucket}/{key} is missing: the committed certificate's key is lost")
    return yaml.safe_load(body)
