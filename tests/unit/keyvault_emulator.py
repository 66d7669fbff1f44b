"""A Key Vault endpoint for the tests, as no Key Vault emulator runs on this machine: the
secrets calls of its REST API that secrets.audit and secrets.rotate make, over TLS, behind the
bearer challenge the SDK answers, with the service's documented behaviour:

- every write of a value is a new version with a server-made id, and the newest is what a read
  without a version (External Secrets') returns;
- attributes and tags belong to a version, a PATCH without a version changes the newest;
- a disabled version cannot be read, an expired one can ("Date-time controlled operations");
- names are letters, digits and dashes, case-insensitive, at most 127; at most 15 tags, each
  value at most 256 characters; a value at most 25 KiB;
- a deleted secret is kept (soft delete with purge protection): it reads as not found, and
  writing its name again is refused (409) until it is recovered.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TOKEN = "emulated-vault-token"  # the one bearer token the emulator accepts
CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/emulated", resource="https://vault.azure.net"'
)
HOST = "127.0.0.1"
NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
MAX_TAGS, MAX_TAG_VALUE, MAX_VALUE = 15, 256, 25 * 1024


class VaultError(Exception):
    def __init__(self, status: int, code: str, message: str, inner: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.inner = status, code, message, inner


class Vault:
    """The secrets and their versions, oldest first."""

    def __init__(self) -> None:
        self.secrets: dict[str, list[dict]] = {}
        self.deleted: dict[str, list[dict]] = {}
        self.lock = threading.Lock()

    def clear(self) -> None:
        self.secrets.clear()
        self.deleted.clear()

    def delete(self, name: str) -> dict:
        self.versions(name)
        self.deleted[name.lower()] = self.secrets.pop(name.lower())
        return self.deleted[name.lower()][-1]

    def versions(self, name: str) -> list[dict]:
        if not NAME.fullmatch(name):
            raise VaultError(400, "BadParameter", f"The request URI contains an invalid name: {name}")
        found = self.secrets.get(name.lower())
        if not found:
            raise VaultError(
                404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault."
            )
        return found

    def version(self, name: str, version: str) -> dict:
        found = self.versions(name)
        if not version:
            return found[-1]
        for item in found:
            if item["version"] == version:
                return item
        raise VaultError(
            404,
            "SecretNotFound",
            f"A secret with (name/id) {name}/{version} was not found in this key vault.",
        )

    @staticmethod
    def _checked_tags(tags: dict) -> dict:
        if len(tags) > MAX_TAGS or any(len(str(value)) > MAX_TAG_VALUE for value in tags.values()):
            raise VaultError(
                400, "BadParameter", f"at most {MAX_TAGS} tags of at most {MAX_TAG_VALUE} characters"
            )
        return dict(tags)

    def set(self, name: str, body: dict) -> dict:
        if not NAME.fullmatch(name):
            raise VaultError(400, "BadParameter", f"The request URI contains an invalid name: {name}")
        value = body.get("value")
        if not isinstance(value, str) or len(value.encode()) > MAX_VALUE:
            raise VaultError(400, "BadParameter", "a value is a string of at most 25 KiB")
        if name.lower() in self.deleted:
            raise VaultError(
                409, "Conflict", f"Secret {name} is currently in a deleted but recoverable state, and its "
                "name cannot be reused; in this state, the secret can only be recovered or purged.",
            )  # fmt: skip
        now = int(time.time())
        attributes = {"enabled": True, **(body.get("attributes") or {}), "created": now, "updated": now,
                      "recoveryLevel": "Recoverable", "recoverableDays": 90}  # fmt: skip
        item = {"version": uuid.uuid4().hex, "value": value, "contentType": body.get("contentType"),
                "tags": self._checked_tags(body.get("tags") or {}), "attributes": attributes}  # fmt: skip
        self.secrets.setdefault(name.lower(), []).append(item)
        return item

    def update(self, name: str, version: str, body: dict) -> dict:
        item = self.version(name, version)
        if "tags" in body:
            item["tags"] = self._checked_tags(body.get("tags") or {})
        if "contentType" in body:
            item["contentType"] = body["contentType"]
        item["attributes"].update(body.get("attributes") or {})
        item["attributes"]["updated"] = int(time.time())
        return item


class _Handler(BaseHTTPRequestHandler):
    vault: Vault
    protocol_version = "HTTP/1.1"  # connections kept open, as the service does
    disable_nagle_algorithm = True  # headers and body go out at once, not a delayed ACK apart

    def log_message(self, *args) -> None:  # quiet
        pass

    def _base(self) -> str:
        return f"https://{self.headers['Host']}"

    def _bundle(self, name: str, item: dict, with_value: bool) -> dict:
        found = {
            "id": f"{self._base()}/secrets/{name}/{item['version']}",
            "attributes": item["attributes"], "tags": item["tags"],
        }  # fmt: skip
        if item["contentType"] is not None:
            found["contentType"] = item["contentType"]
        if with_value:
            found["value"] = item["value"]
        return found

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            missing = {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer"}}
            self._send(401, missing, {"WWW-Authenticate": CHALLENGE})
            return
        parts = urlparse(self.path).path.split("/")
        try:
            with self.vault.lock:
                status, body = self._route(method, parts[1:], json.loads(raw) if raw else {})
        except VaultError as error:
            status, body = error.status, {"error": {"code": error.code, "message": error.message}}
            if error.inner:
                body["error"]["innererror"] = {"code": error.inner}
        self._send(status, body)

    def _route(self, method: str, parts: list[str], body: dict) -> tuple[int, dict]:
        if parts[:1] == ["deletedsecrets"] and method == "GET" and len(parts) == 2:
            if parts[1].lower() not in self.vault.deleted:
                raise VaultError(404, "SecretNotFound", f"Deleted Secret not found: {parts[1]}")
            return 200, self._bundle(parts[1], self.vault.deleted[parts[1].lower()][-1], False)
        if parts[:1] != ["secrets"]:
            raise VaultError(404, "NotFound", "no such operation")
        if method == "GET" and (len(parts) == 1 or parts[1] == ""):
            listed = [
                self._bundle(name, items[-1], False) for name, items in sorted(self.vault.secrets.items())
            ]
            for item in listed:
                item["id"] = item["id"].rsplit("/", 1)[0]
            return 200, {"value": listed, "nextLink": None}
        name = parts[1]
        rest = parts[2] if len(parts) > 2 else ""
        if method == "PUT" and len(parts) == 2:
            return 200, self._bundle(name, self.vault.set(name, body), True)
        if method == "GET" and rest == "versions":
            listed = [self._bundle(name, item, False) for item in self.vault.versions(name)]
            return 200, {"value": listed, "nextLink": None}
        if method == "GET":
            item = self.vault.version(name, rest)
            if not item["attributes"].get("enabled", True):
                raise VaultError(
                    403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"
                )
            return 200, self._bundle(name, item, True)
        if method == "PATCH":
            return 200, self._bundle(name, self.vault.update(name, rest, body), False)
        if method == "DELETE" and not rest:
            return 200, self._bundle(name, self.vault.delete(name), False)
        raise VaultError(405, "MethodNotAllowed", f"{method} is not served here")

    def do_GET(self) -> None:  # the handler's names are http.server's
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: the SDK speaks only TLS to a vault."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emulated vault")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "vault.crt", directory / "vault.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


class TlsEndpoint:
    """An HTTPS server on a free port of 127.0.0.1 (`url`), serving `certificate` (a certificate
    and its key, which the clients trust), in a thread while the context is open."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], certificate: tuple[Path, Path]) -> None:
        self.server = ThreadingHTTPServer((HOST, 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://{HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class KeyVaultEmulator(TlsEndpoint):
    """The vault: `url`, and `ca` (with `key`, which other endpoints of the tests may serve too)
    for the clients to trust."""

    def __init__(self, directory: Path) -> None:
        self.vault = Vault()
        self.ca, self.key = _certificate(directory)
        super().__init__(type("Handler", (_Handler,), {"vault": self.vault}), (self.ca, self.key))
