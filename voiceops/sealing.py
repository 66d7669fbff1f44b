"""Sealed Secrets, offline: the sealed-secrets controller's hybrid encryption (RSA-OAEP with
SHA-256 over a one-time AES-256-GCM session key, zero nonce), its scope labels, and the key pair
we bring to the controller (a TLS Secret labelled active, installed before the controller starts).

Sealing needs only the cluster's public certificate, committed under secrets/sealing/; the
private key lives in the backup store and, in tests, in a throwaway pair. `unseal` is the
controller's side of the same scheme, for round-trip tests and recovery checks."""

from __future__ import annotations

import base64
import copy
import datetime
import functools
import os
import struct
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from voiceops.errors import OpsError

SESSION_KEY_BYTES = 32
NONCE = bytes(12)  # each session key encrypts one value, so a fixed nonce is safe
KEY_BITS = 4096  # the controller's own key size
ACTIVE_KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"


class SealingError(OpsError):
    pass


class Scope(StrEnum):
    """Where a sealed value may be unsealed: the controller binds the ciphertext to it."""

    STRICT = "strict"  # this name in this namespace
    NAMESPACE_WIDE = "namespace-wide"  # any name in this namespace
    CLUSTER_WIDE = "cluster-wide"


def label(namespace: str, name: str, scope: Scope = Scope.STRICT) -> bytes:
    if scope is Scope.CLUSTER_WIDE:
        return b""
    if scope is Scope.NAMESPACE_WIDE:
        return namespace.encode()
    return f"{namespace}/{name}".encode()


def public_key(certificate_pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    except ValueError as problem:
        raise SealingError(f"not a PEM certificate: {problem}") from problem
    if not isinstance(key, rsa.RSAPublicKey):
        raise SealingError("the sealing certificate does not hold an RSA key")
    return key


def _oaep(label_bytes: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label_bytes)


def seal(certificate_pem: bytes, plaintext: bytes, label_bytes: bytes) -> str:
    """One value as the controller expects it in spec.encryptedData: base64 of
    len(RSA ciphertext) (2 bytes, big-endian) || RSA ciphertext || AES-GCM ciphertext."""
    session_key = os.urandom(SESSION_KEY_BYTES)
    wrapped = public_key(certificate_pem).encrypt(session_key, _oaep(label_bytes))
    body = AESGCM(session_key).encrypt(NONCE, plaintext, None)
    return base64.b64encode(struct.pack(">H", len(wrapped)) + wrapped + body).decode()


@functools.lru_cache(maxsize=8)
def _private_key(private_key_pem: bytes) -> object:
    """Loading checks the key (tens of milliseconds for RSA): once per key."""
    return serialization.load_pem_private_key(private_key_pem, password=None)


def unseal(private_key_pem: bytes, sealed: str, label_bytes: bytes) -> bytes:
    key = _private_key(private_key_pem)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SealingError("the sealing key is not an RSA key")
    data = base64.b64decode(sealed)
    if len(data) < 2:
        raise SealingError("sealed value too short")
    (length,) = struct.unpack(">H", data[:2])
    if len(data) < 2 + length:
        raise SealingError("sealed value too short")
    try:
        session_key = key.decrypt(data[2 : 2 + length], _oaep(label_bytes))
        return AESGCM(session_key).decrypt(NONCE, data[2 + length :], None)
    except ValueError as problem:
        raise SealingError("no key could unseal the value (wrong key, namespace or name)") from problem


def sealed_secret(
    certificate_pem: bytes, namespace: str, name: str, values: dict[str, bytes], scope: Scope = Scope.STRICT
) -> dict:
    """A SealedSecret manifest whose controller writes Secret namespace/name with these keys."""
    annotations = {
        Scope.NAMESPACE_WIDE: {NAMESPACE_WIDE: "true"},
        Scope.CLUSTER_WIDE: {CLUSTER_WIDE: "true"},
    }.get(scope, {})
    metadata = {"name": name, "namespace": namespace} | ({"annotations": annotations} if annotations else {})
    bound = label(namespace, name, scope)
    return {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": metadata,
        "spec": {
            "encryptedData": {
                key: seal(certificate_pem, value, bound) for key, value in sorted(values.items())
            },
            "template": {"metadata": copy.deepcopy(metadata), "type": "Opaque"},
        },
    }


def new_key_pair(common_name: str, days: int = 3650, bits: int = KEY_BITS) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM): the pair we bring to the controller, self-signed as
    the controller signs its own."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def key_secret(certificate_pem: bytes, private_key_pem: bytes, namespace: str, name: str) -> dict:
    """The controller's key as a TLS Secret labelled active: installed before the controller,
    which then seals and unseals with it instead of generating its own."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": namespace, "labels": {ACTIVE_KEY_LABEL: "active"}},
        "data": {
            "tls.crt": base64.b64encode(certificate_pem).decode(),
            "tls.key": base64.b64encode(private_key_pem).decode(),
        },
    }
