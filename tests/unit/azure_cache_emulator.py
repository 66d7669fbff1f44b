"""An Azure Cache for Redis for the tests, as no emulator of it runs on this machine: the two
management calls secrets.rotate makes (listKeys, regenerateKey) over TLS behind a bearer
token, in front of a real redis-server whose `default` user accepts exactly the cache's two
keys, as the service's does:

- each key is 32 random bytes in base64; regenerating one leaves the other as it was;
- the cache names are case-insensitive in the path, and a cache that does not exist is a 404
  with ARM's error body;
- the keys are the passwords of the `default` user; no other user logs in.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlparse

import redis

from tests.unit.keyvault_emulator import TlsEndpoint
from voiceops import local

HOST = "127.0.0.1"
PATH = re.compile(
    r"/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)"
    r"/providers/Microsoft\.Cache/redis/(?P<name>[^/]+)/(?P<action>listKeys|regenerateKey)",
    re.IGNORECASE,
)
SLOTS = ("Primary", "Secondary")


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Cache:
    """One cache: its keys, and the redis-server that accepts them."""

    def __init__(self, directory: Path, group: str, name: str) -> None:
        self.group, self.name = group, name
        self.keys = {slot: _key() for slot in SLOTS}
        self.regenerated: list[str] = []  # the slots, in the order they were regenerated
        self.admin_password = _key()
        self.port = _free_port()
        directory.mkdir(parents=True, exist_ok=True)
        acl = directory / "users.acl"
        acl.write_text(f"user admin on >{self.admin_password} ~* &* +@all\n{self._default_rule()}\n")
        self.process = subprocess.Popen(
            [local.binary("redis-server"), "--bind", HOST, "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--aclfile", str(acl), "--dir", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=local.server_env(),
        )  # fmt: skip
        local.wait_for(lambda: local.port_listening(self.port), "the cache's redis-server", timeout=20)
        self.lock = threading.Lock()

    def _default_rule(self) -> str:
        passwords = " ".join(f">{key}" for key in self.keys.values())
        return f"user default on resetpass {passwords} ~* &* +@all"

    def regenerate(self, slot: str) -> None:
        with self.lock:
            self.keys[slot] = _key()
            self.regenerated.append(slot)
            admin = redis.Redis(host=HOST, port=self.port, username="admin", password=self.admin_password)
            try:
                admin.execute_command("ACL", "SETUSER", *self._default_rule().split()[1:])
            finally:
                admin.close()

    def body(self) -> dict[str, str]:
        return {"primaryKey": self.keys["Primary"], "secondaryKey": self.keys["Secondary"]}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


class _Handler(BaseHTTPRequestHandler):
    caches: dict[tuple[str, str], Cache]
    token: str
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, {"error": {"code": code, "message": message}})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        url = urlparse(self.path)
        found = PATH.fullmatch(url.path)
        if found is None or "api-version=" not in url.query:
            return self._error(400, "InvalidRequest", f"no such operation: {url.path}")
        cache = self.caches.get((found["group"].lower(), found["name"].lower()))
        if cache is None:
            missing = f"The Resource 'Microsoft.Cache/redis/{found['name']}' was not found."
            return self._error(404, "ResourceNotFound", missing)
        if found["action"] == "regenerateKey":
            slot = (json.loads(body or b"{}") or {}).get("keyType")
            if slot not in SLOTS:
                wrong = f"keyType must be Primary or Secondary, not {slot}"
                return self._error(400, "InvalidRequestBody", wrong)
            cache.regenerate(slot)
        self._send(200, cache.body())


class AzureCacheEmulator(TlsEndpoint):
    """The management endpoint (`url`), serving `certificate`, with one cache."""

    def __init__(self, directory: Path, certificate: tuple[Path, Path], token: str, group: str, name: str):
        self.cache = Cache(directory / "cache", group, name)
        caches = {(group.lower(), name.lower()): self.cache}
        super().__init__(type("Handler", (_Handler,), {"caches": caches, "token": token}), certificate)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.cache.stop()
