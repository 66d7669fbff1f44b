"""Sealing against a throwaway key pair: what we seal unseals only where the controller would
unseal it, and an independent implementation of the controller's scheme agrees with ours."""

import json
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from voiceops import sealing, toolchain
from voiceops.sealing import Scope

NODE_SEALER = toolchain.ROOT / ".tools" / "npm" / "node_modules" / "@linode" / "kubeseal-encrypt"


@pytest.fixture(scope="module")
def pair():
    return sealing.new_key_pair("sealed-secrets-test", bits=2048)


def test_a_sealed_value_unseals_only_under_its_name_and_namespace(pair):
    certificate, key = pair
    sealed = sealing.seal(certificate, b"s3cret", sealing.label("production", "redis-auth"))
    assert sealing.unseal(key, sealed, sealing.label("production", "redis-auth")) == b"s3cret"
    for namespace, name in (("staging", "redis-auth"), ("production", "other")):
        with pytest.raises(sealing.SealingError, match="no key could unseal"):
            sealing.unseal(key, sealed, sealing.label(namespace, name))
    other_certificate, other_key = sealing.new_key_pair("another-cluster", bits=2048)
    with pytest.raises(sealing.SealingError):
        sealing.unseal(other_key, sealed, sealing.label("production", "redis-auth"))
    assert other_certificate != certificate


def test_a_sealed_secret_carries_every_key_and_its_scope(pair):
    certificate, key = pair
    manifest = sealing.sealed_secret(
        certificate, "production", "redis-auth", {"password": b"a", "sentinel-password": b"b"},
        Scope.NAMESPACE_WIDE,
    )  # fmt: skip
    assert manifest["kind"] == "SealedSecret"
    assert manifest["metadata"]["annotations"] == {sealing.NAMESPACE_WIDE: "true"}
    encrypted = manifest["spec"]["encryptedData"]
    assert sorted(encrypted) == ["password", "sentinel-password"]
    assert sealing.unseal(key, encrypted["sentinel-password"], b"production") == b"b"
    # each value gets its own session key: equal plaintexts never seal alike
    assert sealing.seal(certificate, b"a", b"x") != sealing.seal(certificate, b"a", b"x")


def test_the_controller_key_is_a_labelled_tls_secret(pair):
    certificate, key = pair
    secret = sealing.key_secret(certificate, key, "system", "sealing-key")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["labels"] == {sealing.ACTIVE_KEY_LABEL: "active"}
    loaded = x509.load_pem_x509_certificate(certificate)
    assert loaded.subject == loaded.issuer


def test_an_independent_sealer_agrees_with_our_unsealing(pair, tmp_path):
    """@linode/kubeseal-encrypt (npm) seals namespace-wide; we unseal what it sealed."""
    certificate, key = pair
    spki = sealing.public_key(certificate).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    script = tmp_path / "seal.cjs"
    script.write_text(
        "globalThis.crypto ??= require('node:crypto').webcrypto;\n"
        f"const {{ encryptSecretItem }} = require({json.dumps(str(NODE_SEALER))});\n"
        "const [pem, namespace, value] = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));\n"
        "encryptSecretItem(pem, namespace, value).then((out) => process.stdout.write(out));\n"
    )
    payload = json.dumps([spki.decode(), "production", "from another implementation"])
    sealed = subprocess.run(
        ["node", str(script)], input=payload, capture_output=True, text=True, check=True
    ).stdout  # fmt: skip
    assert sealing.unseal(key, sealed, sealing.label("production", "any", Scope.NAMESPACE_WIDE)) == (
        b"from another implementation"
    )
    with pytest.raises(sealing.SealingError):
        sealing.unseal(key, sealed, sealing.label("staging", "any", Scope.NAMESPACE_WIDE))


def test_a_certificate_that_is_not_one_is_a_clear_error():
    with pytest.raises(sealing.SealingError, match="not a PEM certificate"):
        sealing.seal(b"-----BEGIN NOTHING-----", b"x", b"")
