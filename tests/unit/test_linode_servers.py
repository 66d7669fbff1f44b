"""Linode's servers for secrets.rotate: the managed databases found through the Linode API (the
tests' endpoint), and users named after their environment, as the cluster's environments share
those databases."""

import http.server
import re
import socket
import threading

import pytest

from voiceops import environments, linode_servers, local, secret_bundles
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT

from .linode_api_emulator import TOKEN, LinodeApiEmulator

STAGING = "staging"


def labels() -> list[str]:
    owner = environments.load("production").terraform
    assert owner is not None
    return [f"{owner.workload}-{owner.stage}-{name}" for name in linode_servers.DATABASES]


def test_the_database_labels_are_those_the_stack_makes():
    """modules/linode/databases labels each <prefix>-<key>, -tsdb with TimescaleDB on."""
    variables = (ROOT / "infra/terraform/modules/linode/databases/variables.tf").read_text()
    main = (ROOT / "infra/terraform/modules/linode/databases/main.tf").read_text()
    default = variables[variables.index("default = {") : variables.index("}\n\n  validation")]
    declared = re.findall(r"^\s*(\w+)\s*=\s*\{(.*)\}\s*$", default, re.MULTILINE)
    made = [f"{key}-tsdb" if "timescaledb = true" in body else key for key, body in declared]
    assert made == list(linode_servers.DATABASES)
    assert 'label        = "${var.prefix}-${each.key}${each.value.timescaledb ? "-tsdb" : ""}"' in main


def test_only_linode_users_carry_their_environments_name():
    item = next(i for i in secret_bundles.for_environment(environments.load(STAGING))
                if i.name == "analytics-credentials")  # fmt: skip
    prefix = secret_bundles.user_prefix(environments.load(STAGING))
    first = local.fresh_values(item.declared, None, prefix=prefix)
    assert first["postgres-username"] == "staging-platform-analytics"
    second = local.fresh_values(item.declared, first, prefix=prefix)
    assert second["postgres-username"] == "staging-platform-analytics-clone"
    for name in ("local", "sandbox", "azure-production"):
        assert secret_bundles.user_prefix(environments.load(name)) == ""
    # the exporter's role follows both of its users
    assert local.postgres_memberships(prefix)["staging-observability-postgres-exporter-clone"] == (
        "pg_monitor",
    )


def test_the_databases_are_found_with_their_administrators_over_every_page(monkeypatch):
    databases = {label: ("127.0.0.1", 5432 + index, "akmadmin", f"secret-{index}")
                 for index, label in enumerate(["voiceops-other-users", *labels()])}  # fmt: skip
    with LinodeApiEmulator(databases, page_size=2) as api:
        monkeypatch.setenv(linode_servers.URL_VARIABLE, api.url)
        monkeypatch.setenv(linode_servers.TOKEN_VARIABLE, TOKEN)
        found = linode_servers.LinodeServers(environments.load(STAGING), None).postgres(None)
        assert [server.address for server in found.servers] == [("127.0.0.1", 5433), ("127.0.0.1", 5434),
                                                               ("127.0.0.1", 5435)]  # fmt: skip
        assert [server.admin for server in found.servers] == [("akmadmin", f"secret-{n}") for n in (1, 2, 3)]
        assert {server.database for server in found.servers} == {"staging-platform"}
        assert any("page=2" in call for call in api.calls)


def test_the_linode_api_failing_stops_in_one_line(monkeypatch):
    staging = environments.load(STAGING)
    monkeypatch.delenv(linode_servers.TOKEN_VARIABLE, raising=False)
    with pytest.raises(
        OpsError, match="no LINODE_TOKEN, so the managed databases cannot be found"
    ) as stopped:
        linode_servers.LinodeServers(staging, None)
    assert stopped.value.exit_code == 5
    monkeypatch.setenv(linode_servers.TOKEN_VARIABLE, "wrong")
    monkeypatch.setenv(linode_servers.URL_VARIABLE, "http://api.example.invalid/v4")
    with pytest.raises(OpsError, match="is not https: the token would travel in the clear"):
        linode_servers.LinodeServers(staging, None)
    with LinodeApiEmulator({labels()[0]: ("127.0.0.1", 5432, "akmadmin", "x")}) as api:
        monkeypatch.setenv(linode_servers.URL_VARIABLE, api.url)
        with pytest.raises(
            OpsError, match=r"answered 401 to .* \(Invalid Token\); nothing was changed"
        ) as refused:
            linode_servers.LinodeServers(staging, None).postgres(None)
        assert refused.value.exit_code == 5
        monkeypatch.setenv(linode_servers.TOKEN_VARIABLE, TOKEN)
        missing = ", ".join(labels()[1:])
        with pytest.raises(OpsError, match=f"managed database {missing} not found \\(is the stack applied"):
            linode_servers.LinodeServers(staging, None).postgres(None)
        with pytest.raises(OpsError, match="Linode's PostgreSQL is several databases"):
            linode_servers.LinodeServers(staging, None).postgres(("127.0.0.1", 15432))
    monkeypatch.setenv(linode_servers.URL_VARIABLE, api.url)  # nothing answers there any more
    with pytest.raises(OpsError, match=r"cannot read .* from the Linode API at") as unreachable:
        linode_servers.LinodeServers(staging, None).postgres(None)
    assert unreachable.value.exit_code == 5


def test_the_token_never_follows_a_redirect_and_a_dropped_answer_stops_in_one_line(monkeypatch):
    """A redirect is an answer: urllib would send the token wherever it points, plain http too."""
    received: list[str] = []

    class Redirect(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """Quiet."""

        def do_GET(self) -> None:  # the handler's names are http.server's
            received.append(self.headers.get("Authorization", ""))
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/elsewhere")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(linode_servers.URL_VARIABLE, f"http://127.0.0.1:{server.server_address[1]}/v4")
    monkeypatch.setenv(linode_servers.TOKEN_VARIABLE, "a-token")
    try:
        with pytest.raises(OpsError, match="answered 302") as redirected:
            linode_servers.LinodeServers(environments.load(STAGING), None).postgres(None)
        assert redirected.value.exit_code == 5 and len(received) == 1, received
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as listener:  # accepts, then closes without an answer
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        monkeypatch.setenv(linode_servers.URL_VARIABLE, f"http://127.0.0.1:{listener.getsockname()[1]}/v4")

        def drop() -> None:
            connection, _ = listener.accept()
            connection.recv(4096)
            connection.close()

        threading.Thread(target=drop, daemon=True).start()
        with pytest.raises(OpsError, match=r"cannot read .* from the Linode API") as dropped:
            linode_servers.LinodeServers(environments.load(STAGING), None).postgres(None)
        assert dropped.value.exit_code == 5


def test_without_a_cluster_the_port_forwards_stop_in_one_line():
    """The delivery runner reaches RabbitMQ and each Redis server through port-forwards."""
    forwards = linode_servers.PortForwards(environments.load(STAGING))
    with pytest.raises(OpsError, match=r"cannot reach the servers in staging .*give --via redis=") as listing:
        forwards.to_pods("staging", "release=platform-redis,app=redis-ha", 3)
    assert listing.value.exit_code == 5
    with pytest.raises(
        OpsError, match=r"kubectl port-forward svc/rabbitmq: .*nothing was changed"
    ) as forwarding:
        forwards.open("staging", "svc/rabbitmq", 5672)
    assert forwarding.value.exit_code == 5 and forwards.processes[-1].poll() is not None
    forwards.close()
