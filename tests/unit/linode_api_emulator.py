"""The part of the Linode API secrets.rotate reads, for the tests (no emulator of it runs on this
machine): the managed PostgreSQL databases, listed a page at a time, and each one's
administrator, behind a bearer token, with the API's error body (`{"errors": [{"reason"}]}`)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HOST = "127.0.0.1"
TOKEN = "linode-emulator-token"  # the one bearer token the emulator accepts
LIST_PATH = "/v4/databases/postgresql/instances"


class LinodeApiEmulator:
    """`databases`: label -> (host, port, administrator, password), one instance each."""

    def __init__(self, databases: dict[str, tuple[str, int, str, str]], page_size: int = 2) -> None:
        self.instances = [
            {"id": 1000 + index, "label": label, "status": "active", "engine": "postgresql",
             "hosts": {"primary": host, "secondary": None}, "port": port}
            for index, (label, (host, port, _, _)) in enumerate(databases.items())
        ]  # fmt: skip
        self.credentials = {
            1000 + index: {"username": user, "password": password}
            for index, (_, _, user, password) in enumerate(databases.values())
        }
        self.page_size = page_size
        self.calls: list[str] = []
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                """Requests are recorded in `calls`, not printed."""

            def do_GET(self) -> None:  # the handler's names are http.server's
                emulator.calls.append(self.path)
                status, body = emulator.answer(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/v4"

    def answer(self, path: str, authorization: str) -> tuple[int, dict]:
        if authorization != f"Bearer {TOKEN}":
            return 401, {"errors": [{"reason": "Invalid Token"}]}
        parsed = urlparse(path)
        if parsed.path == LIST_PATH:
            page = int(parse_qs(parsed.query).get("page", ["1"])[0])
            pages = max(1, -(-len(self.instances) // self.page_size))
            start = (page - 1) * self.page_size
            data = self.instances[start : start + self.page_size]
            return 200, {"data": data, "page": page, "pages": pages, "results": len(self.instances)}
        parts = parsed.path.removeprefix(LIST_PATH + "/").split("/")
        found = self.credentials.get(int(parts[0])) if parts[0].isdigit() else None
        if len(parts) == 2 and parts[1] == "credentials" and found is not None:
            return 200, found
        return 404, {"errors": [{"reason": "Not found"}]}

    def __enter__(self) -> LinodeApiEmulator:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
