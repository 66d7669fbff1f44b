"""The local environment against real servers: the quick start's deploy, idempotence, crash
recovery, interrupts at every step, a taken port, data kept across down/up, and state files
that vanish under running servers.

One environment serves the whole run: deployed as the README's quick start does it (`invoke
deploy --env local`: servers up, render and gate, testinfra smoke tests), shared by every
test that leaves it running, smoke-tested again at the end (`invoke smoke --env local`),
then stopped and its data removed. A test that destroys its environment gets one of its own:
another state directory, so other free ports and servers of its own."""

import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pika
import psycopg
import pytest
import redis
import yaml

from voiceops import (
    aws_rotation,
    credential_load,
    credential_servers,
    drills,
    environments,
    keyvault_rotation,
    linode_servers,
    local,
    protection,
    sealed_rotation,
    secret_audit,
    secret_bundles,
    secret_rotation,
    secret_versions,
)
from voiceops.errors import OpsError
from voiceops.secret_bundles import Store

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def state_directory() -> Path:
    """A fresh state directory. World-traversable: as root, PostgreSQL runs as the postgres
    user and must reach its data."""
    state = Path(tempfile.mkdtemp(prefix="voiceops-it-"))
    state.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return state


def invoke(*args: str) -> subprocess.CompletedProcess:
    """A task as a user runs it, on the state directory named in this process's environment."""
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip


def output_tail(result: subprocess.CompletedProcess) -> str:
    return (result.stdout + result.stderr)[-4000:]


def ignore(line: str) -> None:
    """Progress lines of a start or a stop are not what these tests check."""


def states() -> dict[str, str]:
    return {s.name: s.state for s in local.status()}


@pytest.fixture(scope="session")
def shared_deploy():
    """The audit record of the deploy that brought the shared environment up."""
    with pytest.MonkeyPatch.context() as patch:
        state = state_directory()
        patch.setenv("VOICEOPS_STATE_DIR", str(state))
        patch.setenv("VOICEOPS_BUILD_DIR", str(state / "build"))  # not the build/ other checks read
        try:
            deploy = invoke("deploy", "--env", "local")
            assert deploy.returncode == 0, f"invoke deploy --env local failed:\n{output_tail(deploy)}"
            (audit,) = (state / "audit").glob("*-local-deploy.json")
            yield json.loads(audit.read_text())
            smoke = invoke("smoke", "--env", "local")
            assert smoke.returncode == 0, f"smoke tests failed at the end of the run:\n{output_tail(smoke)}"
        finally:
            # In this process: servers the tests restarted are its children, which only it can reap.
            local.down(keep_data=False, report=ignore)
            left, kept = local.owned_processes(), local.local_dir().exists()
            shutil.rmtree(state)
        assert not left and not kept, f"after local.down --purge: running {sorted(left)}, data kept: {kept}"


@pytest.fixture
def environment(shared_deploy):
    """The shared environment as it is now (a test before may have moved its ports); the test
    must leave every server running."""
    yield local.Layout.load()
    assert set(states().values()) == {"running"}, f"left the shared environment so: {states()}"


@pytest.fixture
def isolated_environment(monkeypatch):
    """An environment of its own, for a test that destroys what it runs on."""
    state = state_directory()
    monkeypatch.setenv("VOICEOPS_STATE_DIR", str(state))
    try:
        yield protection.up(report=ignore)
    finally:
        local.down(keep_data=False, report=ignore)
        shutil.rmtree(state)


def assert_healthy(layout: local.Layout) -> None:
    """Every server up, and every credential in the secret store works where it belongs."""
    assert set(states().values()) == {"running"}, states()
    for database in local.DATABASES:
        secret = local.read_secret(layout, f"postgres/{database}")
        with psycopg.connect(host=secret["host"], port=secret["port"], user=secret["username"],
                             password=secret["password"], dbname=secret["dbname"]) as connection:  # fmt: skip
            assert connection.execute("SELECT current_user").fetchone() == (database,)
    for user in local.REDIS_USERS:
        secret = local.read_secret(layout, f"redis/{user}")
        assert redis.Redis(
            host=secret["host"], port=secret["port"], username=user, password=secret["password"]
        ).ping()
    # every bundle secret the local environment reads, with every key its bundle declares
    store = local.aws_client(layout, "secretsmanager")
    for item in secret_bundles.for_environment(environments.load("local")):
        values = json.loads(secret_versions.current_string(store, f"voiceops/local/{item.name}"))
        assert set(values) == set(item.declared.secret.keys)
        for account in local.accounts(values):  # the platform services' users log in
            assert local.account_accepted(layout, account), (
                f"{item.name}: {account.server} {account.username}"
            )
    # and the audit is clean: every secret there, provisioned, none overdue
    environment = environments.load("local")
    today = datetime.datetime.now(datetime.UTC).date()
    rows = secret_audit.audit(environment, secret_audit.reader_for(environment), today)
    assert secret_audit.problems(rows) == []
    for user in local.RABBITMQ_USERS:
        secret = local.read_secret(layout, f"rabbitmq/{user}")
        credentials = pika.PlainCredentials(user, secret["password"])
        parameters = pika.ConnectionParameters(secret["host"], secret["port"], secret["vhost"], credentials)
        with pika.BlockingConnection(parameters) as connection:
            connection.channel().queue_declare(local.USAGE_QUEUE, passive=True)


def kill(kind: str) -> None:
    """A crash: SIGKILL every process of one server."""
    processes = local.owned_processes().get(kind, [])
    for process in processes:
        process.kill()
    for process in processes:
        process.wait(10)


def test_the_deploy_started_every_server_and_its_smoke_tests_passed(shared_deploy, environment):
    steps = {step["name"]: step for step in shared_deploy["steps"]}
    assert shared_deploy["result"] == "succeeded", shared_deploy["error"]
    assert steps["local servers"]["status"] == "ok"
    assert steps["smoke tests"]["status"] == "ok" and " passed" in steps["smoke tests"]["detail"]
    assert_healthy(environment)


def test_up_again_changes_nothing(environment):
    lines = []
    again = protection.up(report=lines.append)
    assert again.ports == environment.ports
    assert again.credentials == environment.credentials
    outcomes = [line for line in lines if " on 127.0.0.1:" in line]
    assert len(outcomes) == 4 and all("already running" in line for line in outcomes), lines
    (protected,) = [line for line in lines if line.startswith("protection: ")]
    assert "WAL streaming, base backup of" in protected and "secrets running" in protected, protected


def test_a_layout_that_lost_track_of_the_running_store_follows_it(environment):
    stale = local.Layout.load()
    stale.ports["moto"] = local._free_port(set(stale.ports.values()))  # as if moved while it started
    stale.save()
    again = protection.up(report=lambda _line: None)
    assert again.ports["moto"] == environment.ports["moto"] == local.Layout.load().ports["moto"]
    assert_healthy(again)


def test_a_crashed_server_shows_in_status_and_up_recovers_it(environment):
    kill("redis")
    assert states()["redis"] == "stopped"
    lines = []
    protection.up(report=lines.append)
    assert any(line.startswith("redis: started") for line in lines)
    assert_healthy(environment)


def test_a_rotated_credential_in_the_store_is_kept(environment):
    manager = local.aws_client(environment, "secretsmanager")
    name = f"{local.PREFIX}/postgres/analytics"
    secret = json.loads(manager.get_secret_value(SecretId=name)["SecretString"])
    secret["password"] = local.new_password()
    manager.put_secret_value(SecretId=name, SecretString=json.dumps(secret))
    lines = []
    layout = protection.up(report=lines.append)
    assert any("kept: postgres/analytics" in line for line in lines)
    assert layout.credentials["postgres/analytics"] == secret["password"]
    assert local.Layout.load().credentials["postgres/analytics"] == secret["password"]
    assert_healthy(layout)


def test_a_rotated_bundle_secret_is_kept_and_up_writes_no_new_version(environment):
    manager = local.aws_client(environment, "secretsmanager")
    entry = f"{local.PREFIX}/grafana-admin"
    rotated = {"admin-user": "admin", "admin-password": local.new_password()}
    manager.put_secret_value(SecretId=entry, SecretString=json.dumps(rotated))

    def versions():
        return len(manager.list_secret_version_ids(SecretId=entry, IncludeDeprecated=True)["Versions"])

    before = versions()
    protection.up(report=lambda _line: None)
    assert json.loads(manager.get_secret_value(SecretId=entry)["SecretString"]) == rotated
    assert local.Layout.load().bundles[entry] == rotated and versions() == before


# Each point: a server's step during which Ctrl-C arrives; before a "starting" point the
# server is crashed first, so the interrupted run really starts it.
INTERRUPT_POINTS = [
    ("moto", "starting"),
    ("postgres", "starting"),
    ("postgres", "provisioning"),
    ("redis", "starting"),
    ("rabbitmq", "starting"),
    ("rabbitmq", "provisioning"),
    ("moto", "provisioning"),
]


def default_interrupt() -> None:
    """Ctrl-C as at a terminal, even when the tests run as a background job (whose shell leaves
    SIGINT ignored, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(("server", "step"), INTERRUPT_POINTS, ids=[f"{s}-{p}" for s, p in INTERRUPT_POINTS])
def test_an_interrupted_deploy_is_healed_by_the_next_run(environment, server, step):
    if step == "starting":
        kill(server)
    deploy = subprocess.Popen(
        [sys.executable, "-m", "invoke", "deploy", "--env", "local"], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=default_interrupt,
    )  # fmt: skip
    for line in deploy.stdout:
        if line.strip().startswith(f"{server}: {step}"):
            time.sleep(0.1)  # inside the step, not on its first line
            os.killpg(deploy.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
            break
    else:
        deploy.kill()
        pytest.fail(f"the deploy never reached {server}: {step}")
    _, errors = deploy.communicate(timeout=120)
    assert deploy.returncode == 130, errors[-6000:]
    assert errors.strip().splitlines()[-1] == "interrupted: stopped by the user (Ctrl-C)"
    audits = sorted((Path(os.environ["VOICEOPS_STATE_DIR"]) / "audit").glob("*-local-deploy.json"))
    assert json.loads(audits[-1].read_text())["result"] == "interrupted"
    assert_healthy(protection.up(report=ignore))


def test_data_and_rotated_credentials_survive_down_and_up_and_a_taken_port_is_moved(environment):
    secret_rotation.rotate("local", "platform", "media-processing-credentials", 0, None, report=ignore)
    bundles = {
        entry: current(environment, entry.removeprefix(f"{local.PREFIX}/")) for entry in environment.bundles
    }
    secret = local.read_secret(environment, "postgres/api")
    params = {k: secret[k] for k in ("host", "port", "password", "dbname")} | {"user": secret["username"]}
    with psycopg.connect(**params, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS kept (id int)")
        connection.execute("INSERT INTO kept VALUES (1)")
    layout = local.Layout.load()
    local.down(keep_data=True, report=ignore)
    assert set(states().values()) == {"stopped"}
    assert local.owned_processes() == {}, "epmd and everything else stopped too"
    taken = layout.ports["moto"]
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        lines = []
        moved = protection.up(report=lines.append)
        assert moved.ports["moto"] != taken
        # other ports may move too (one freed a moment ago can still be held); moto must be named
        reports = [line.split("moved:", 1)[1] for line in lines if "moved:" in line]
        assert reports and "moto" in reports[0].replace(" ", "").split(",")
    secret = local.read_secret(moved, "postgres/api")
    params = {k: secret[k] for k in ("host", "port", "password", "dbname")} | {"user": secret["username"]}
    with psycopg.connect(**params) as connection:
        assert connection.execute("SELECT count(*) FROM kept").fetchone()[0] >= 1
    assert {
        entry: current(moved, entry.removeprefix(f"{local.PREFIX}/")) for entry in moved.bundles
    } == bundles
    assert_healthy(moved)


def test_status_and_down_tell_the_truth_when_the_state_files_are_gone(isolated_environment):
    ports = local.Layout.load().ports
    # Everything goes but PostgreSQL's data: a PostgreSQL whose files vanish stops itself, soon
    # or late, which would make "still running" a race instead of a fact to check.
    for path in local.local_dir().iterdir():
        if path.name != "postgres":
            subprocess.run(["rm", "-rf", str(path)], check=True)
    assert local.Layout.load() is None
    found = {item.name: item for item in local.status()}
    assert {name: item.state for name, item in found.items()} == dict.fromkeys(local.SERVICES, "running")
    assert found["postgres"].port == ports["postgres"] and found["moto"].port == ports["moto"]
    lines = []
    local.down(report=lines.append)
    assert lines == ["stopped: epmd, moto, postgres, protection, rabbitmq, redis, wal-stream"]
    assert local.owned_processes() == {}
    assert set(states().values()) == {"stopped"}


# --- secret rotation ----------------------------------------------------------------------


def rotate_command(secret: str, grace: float = 1) -> list[str]:
    return [sys.executable, "-m", "invoke", "secrets.rotate", "--bundle", "platform", "--secret", secret,
            "--grace", str(grace)]  # fmt: skip


def current(layout: local.Layout, secret: str) -> dict[str, str]:
    store = local.aws_client(layout, "secretsmanager")
    return json.loads(secret_versions.current_string(store, f"{local.PREFIX}/{secret}"))


def promoted_at(layout: local.Layout, secret: str) -> float:
    store = local.aws_client(layout, "secretsmanager")
    stamp = secret_versions.tags(store, f"{local.PREFIX}/{secret}")[secret_versions.PROMOTED_TAG]
    return datetime.datetime.fromisoformat(stamp).timestamp()


def assert_rotated_under_load(layout: local.Layout, load: credential_load.CredentialLoad, secret: str,
                              before: dict[str, str]) -> None:  # fmt: skip
    """No operation failed; once promoted, every connection used the new credential; the old
    one is refused now, and the audit is clean."""
    assert load.failures() == [], load.failures()[:5]
    after = current(layout, secret)
    new = {(account.server, account.username, account.password) for account in local.accounts(after)}
    # the promotion's tag has whole seconds: one more, and reading the store comes before connecting
    late = [op for op in load.connections if op.started > promoted_at(layout, secret) + 1.5]
    assert late and all((op.server, op.username, op.password) in new for op in late)
    assert {op.server for op in late} == {account.server for account in local.accounts(after)}
    for account in local.accounts(before):
        assert not local.account_accepted(layout, account), f"the retired {account} still logs in"
    environment = environments.load("local")
    today = datetime.datetime.now(datetime.UTC).date()
    assert (
        secret_audit.problems(secret_audit.audit(environment, secret_audit.reader_for(environment), today))
        == []
    )


def test_a_rotation_under_load_fails_no_operation_and_retires_the_old_credentials(environment):
    secret = "api-rest-credentials"  # a PostgreSQL, a Redis and a RabbitMQ user
    before = current(environment, secret)
    with credential_load.CredentialLoad(environment, f"{local.PREFIX}/{secret}", rate=60, workers=3) as load:
        rotation = subprocess.run(
            rotate_command(secret), cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert rotation.returncode == 0, output_tail(rotation)
        time.sleep(2)  # connections after the promotion
    assert_rotated_under_load(environment, load, secret, before)
    new = {account.server: account.username for account in local.accounts(current(environment, secret))}
    old = {account.server: account.username for account in local.accounts(before)}
    assert new["postgres"] != old["postgres"] and new["rabbitmq"] != old["rabbitmq"]  # the other user
    assert new["redis"] == old["redis"]  # the same user, its other password
    # older definitions giving the retired RabbitMQ user its password back (a restored backup):
    # local.up takes it away again
    (broker_user,) = [account for account in local.accounts(before) if account.server == "rabbitmq"]
    local.servers(environment).by_kind["rabbitmq"].converge({broker_user.username: [broker_user.password]})
    assert local.account_accepted(environment, broker_user)
    protection.up(report=ignore)
    assert not local.account_accepted(environment, broker_user)
    # and a current user that lost its rights on the vhost gets them back
    (current_user,) = [a for a in local.accounts(current(environment, secret)) if a.server == "rabbitmq"]
    broker = local.servers(environment).by_kind["rabbitmq"]
    broker._call("DELETE", f"/api/permissions/{local.RABBITMQ_VHOST}/{current_user.username}")
    assert not local.account_accepted(environment, current_user)
    protection.up(report=ignore)
    assert local.account_accepted(environment, current_user)


def monitors(layout: local.Layout, values: dict[str, str]) -> bool:
    """Whether the credential logs in to the database the exporter watches, as a pg_monitor member."""
    with psycopg.connect(host=local.HOST, port=layout.ports["postgres"], user=values["postgres-username"],
                         password=values["postgres-password"], dbname="postgres") as connection:  # fmt: skip
        return connection.execute("SELECT pg_has_role('pg_monitor', 'MEMBER')").fetchone() == (True,)


def test_the_exporters_login_is_a_monitoring_user_and_its_rotation_moves_it_to_the_other(environment):
    secret = "postgres-exporter-credentials"
    before = current(environment, secret)
    assert monitors(environment, before)  # made by the deploy, from the store
    secret_rotation.rotate("local", "observability", secret, 0, None, report=ignore)
    after = current(environment, secret)
    assert after["postgres-username"] != before["postgres-username"] and monitors(environment, after)
    (retired,) = local.accounts(before)
    assert not local.account_accepted(environment, retired)


def write_by_hand(store, entry: str, values: dict[str, str]) -> None:
    """A new current value, as Secrets Manager makes one: the emulator, once a rotation moved
    AWSCURRENT, leaves it on that version too when a value is put plainly."""
    current = store.describe_secret(SecretId=entry)["VersionIdsToStages"]
    (before,) = [version for version, stages in current.items() if "AWSCURRENT" in stages]
    made = store.put_secret_value(SecretId=entry, SecretString=json.dumps(values), VersionStages=["by-hand"])
    store.update_secret_version_stage(
        SecretId=entry,
        VersionStage="AWSCURRENT",
        MoveToVersionId=made["VersionId"],
        RemoveFromVersionId=before,
    )


def test_a_user_written_by_hand_outside_the_pair_is_retired_by_the_next_rotation(environment):
    """A value written by hand names a user the rotation never made: it must log in no more once
    the rotation moved the readers to its own user, unless another secret's readers use it."""
    secret = "analytics-credentials"
    store = local.aws_client(environment, "secretsmanager")
    entry = f"{local.PREFIX}/{secret}"
    legacy = {"postgres-username": "platform-analytics-legacy", "postgres-password": local.new_password()}
    local.converge_accounts(
        environment, {"postgres": {legacy["postgres-username"]: [legacy["postgres-password"]]}}
    )
    write_by_hand(store, entry, legacy)
    (account,) = local.accounts(legacy)
    assert local.account_accepted(environment, account)
    secret_rotation.rotate("local", "platform", secret, 0, None, report=ignore)
    assert current(environment, secret)["postgres-username"] in (
        "platform-analytics",
        "platform-analytics-clone",
    )
    assert not local.account_accepted(environment, account), "the hand-written user still logs in"

    # written by hand as another secret's user: that secret's readers keep it
    (rest,) = [found for found in local.accounts(current(environment, "api-rest-credentials"))
               if found.server == "postgres"]  # fmt: skip
    write_by_hand(store, entry, {"postgres-username": rest.username, "postgres-password": rest.password})
    secret_rotation.rotate("local", "platform", secret, 0, None, report=ignore)
    assert current(environment, secret)["postgres-username"].startswith("platform-analytics")
    assert local.account_accepted(environment, rest), "another secret's user was logged out"


def test_a_secret_missing_from_the_store_stops_the_rotation_in_one_line(environment):
    store = local.aws_client(environment, "secretsmanager")
    entry = f"{local.PREFIX}/tts-credentials"
    store.delete_secret(SecretId=entry, ForceDeleteWithoutRecovery=True)
    rotation = subprocess.run(
        [sys.executable, "-m", "invoke", "secrets.rotate", "--bundle", "ai-services", "--grace", "0"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rotation.returncode == 5, output_tail(rotation)
    assert rotation.stderr.strip() == (
        f"error: local: {entry} is not in the local store (invoke local.up); nothing was changed"
    )
    protection.up(report=ignore)  # puts the entry back with the layout's value
    assert current(environment, "tts-credentials")


def fork_rotations(secret: str, steps: tuple[str, ...]) -> list[tuple[int, int]]:
    """One forked process per step (no interpreter start-up; forked before the load's threads
    exist), each waiting for a byte on its pipe, then rotating until it SIGKILLs itself after
    its step. (pid, pipe) of each."""
    children = []
    for step in steps:
        read, write = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(write)
            os.read(read, 1)
            os.environ[secret_rotation.CRASH_VARIABLE] = step
            try:
                secret_rotation.rotate("local", "platform", secret, 1, None, report=ignore)
            except BaseException:
                os._exit(1)
            os._exit(0)
        os.close(read)
        children.append((child, write))
    return children


def test_a_rotation_killed_between_every_pair_of_steps_is_completed_by_the_next_run(environment):
    secret = "analytics-credentials"  # a PostgreSQL user: no rabbitmqctl call, so the test stays short
    before = current(environment, secret)
    steps = secret_rotation.STEPS[:-1]  # after the last step there is nothing left to resume
    children = fork_rotations(secret, steps)
    with credential_load.CredentialLoad(environment, f"{local.PREFIX}/{secret}", rate=60, workers=3) as load:
        for step, (child, go) in zip(steps, children, strict=True):
            os.write(go, b"x")
            os.close(go)
            _, status = os.waitpid(child, 0)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (step, status)
            if step == "promote":
                promoted = current(environment, secret)
                assert promoted != before and all(
                    local.account_accepted(environment, a) for a in local.accounts(promoted)
                )
        # the last kill came after the rotation ended: this run is a new one, uninterrupted
        record, _ = secret_rotation.rotate("local", "platform", secret, 1, None, report=ignore)
        assert record.result == "succeeded"
        time.sleep(2)
    assert_rotated_under_load(environment, load, secret, before)
    assert_rotated_under_load(environment, load, secret, promoted)  # the first rotation's too
    audits = sorted((Path(os.environ["VOICEOPS_STATE_DIR"]) / "audit").glob("*-local-secrets-rotate.json"))
    assert json.loads(audits[-1].read_text())["result"] == "succeeded"


def test_a_restarted_secret_store_keeps_the_rotated_credentials_and_their_date(environment):
    secret = "analytics-credentials"
    secret_rotation.rotate("local", "platform", secret, 0, None, report=ignore)
    rotated, stamp = current(environment, secret), promoted_at(environment, secret)
    kill("moto")  # the emulator forgets everything it held
    layout = protection.up(report=ignore)
    assert current(layout, secret) == rotated
    environment_ = environments.load("local")
    rows = secret_audit.audit(environment_, secret_audit.reader_for(environment_), datetime.date.today())
    (row,) = [row for row in rows if row.secret == secret]
    assert row.rotated.timestamp() == stamp
    assert_healthy(layout)


@pytest.fixture
def emulated_aws(monkeypatch):
    """An emulated AWS account of its own (moto), holding what the sandbox stack makes: its RDS
    instance, whose administrator secret RDS keeps, and an empty entry per secret."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "emulated")
    try:
        yield environments.load("sandbox")
    finally:
        server.stop()


def test_an_aws_rotation_gives_an_empty_entry_its_first_value_then_alternates_the_rds_user(
    environment, emulated_aws
):
    """The AWS path against an emulated account, with this run's PostgreSQL standing in for RDS
    behind a tunnel (--via): the administrator comes from the secret RDS keeps."""
    import boto3

    region = emulated_aws.regions.primary
    instance = boto3.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier="voiceops-sandbox-postgresql", Engine="postgres", DBInstanceClass="db.t4g.micro",
        MasterUsername="postgres", ManageMasterUserPassword=True,
    )["DBInstance"]  # fmt: skip
    store = boto3.client("secretsmanager", region_name=region)
    administrator = {"username": "postgres", "password": environment.credentials["postgres/admin"]}
    master = instance["MasterUserSecret"]["SecretArn"]
    store.put_secret_value(SecretId=master, SecretString=json.dumps(administrator))
    item = next(i for i in secret_bundles.for_environment(emulated_aws) if i.name == "analytics-credentials")
    entry = secret_bundles.entry_name(emulated_aws, item.declared.store, item.name)
    store.create_secret(Name=entry)  # as Terraform makes it: no value
    database = local.servers(environment).by_kind["postgres"]
    via = {"postgres": ("127.0.0.1", environment.ports["postgres"])}

    def rotate() -> dict[str, str]:
        secret_rotation.rotate("sandbox", "platform", item.name, 0, None, report=ignore, via=via)
        return json.loads(secret_versions.current_string(store, entry))

    try:
        first = rotate()
        described = store.describe_secret(SecretId=entry)  # promoted, not left pending
        assert list(described["VersionIdsToStages"].values()) == [["AWSCURRENT"]]
        assert secret_versions.ROTATED_TAG in {tag["Key"] for tag in described["Tags"]}
        assert first["postgres-username"] == "platform-analytics"
        assert database.accepts(first["postgres-username"], first["postgres-password"])
        second = rotate()
        assert second["postgres-username"] == "platform-analytics-clone"
        assert database.accepts(second["postgres-username"], second["postgres-password"])
        assert not database.accepts(first["postgres-username"], first["postgres-password"]), "still works"
        (dates,) = [secret_audit.secrets_manager_reader(store)(item, entry)]
        assert dates.rotated is not None and secret_versions.token_in_flight(store, [entry]) is None

        # the exporter's first login is made on RDS, with the role its bundle names
        exporter = secret_bundles.entry_name(
            emulated_aws, item.declared.store, "postgres-exporter-credentials"
        )
        store.create_secret(Name=exporter)
        secret_rotation.rotate("sandbox", "observability", "postgres-exporter-credentials", 0, None,
                               report=ignore, via=via)  # fmt: skip
        assert monitors(environment, json.loads(secret_versions.current_string(store, exporter)))

        # unreachable without a tunnel (the emulated endpoint resolves nowhere): exit 5, nothing changed
        versions = store.describe_secret(SecretId=entry)["VersionIdsToStages"]
        with pytest.raises(OpsError, match="cannot reach postgres") as refused:
            secret_rotation.rotate("sandbox", "platform", item.name, 0, None, report=ignore)
        assert refused.value.exit_code == 5
        assert store.describe_secret(SecretId=entry)["VersionIdsToStages"] == versions
    finally:  # the shared environment's own users of these names, as its store has them
        local.converge_accounts(environment, {"postgres": local.valid_accounts(environment)["postgres"]})


def test_an_azure_rotation_sets_the_servers_users_and_moves_every_holder_to_a_new_cache_key(
    environment, tmp_path, monkeypatch
):
    """The Azure path against the tests' Key Vault and Azure Cache endpoints, with this run's
    PostgreSQL and RabbitMQ standing in for the Flexible Server and the cluster's RabbitMQ behind
    tunnels: PostgreSQL's administrator is the one the stack writes to the vault, and the holders
    of the cache's access key move to a new key together, also after a run that died while
    creating their pending versions."""
    from tests.unit.azure_cache_emulator import AzureCacheEmulator
    from tests.unit.keyvault_emulator import TOKEN, KeyVaultEmulator

    azure = environments.load("azure-production")
    settings = azure.terraform
    assert settings is not None
    group = f"rg-{settings.workload}-{settings.stage}-{azure.regions.primary}"
    cache_name = f"redis-{settings.workload}-{settings.stage}"
    with (
        KeyVaultEmulator(tmp_path) as vault,
        AzureCacheEmulator(tmp_path, (vault.ca, vault.key), TOKEN, group, cache_name) as arm,
    ):
        monkeypatch.setenv(keyvault_rotation.URL_VARIABLE, vault.url)
        monkeypatch.setenv(keyvault_rotation.TOKEN_VARIABLE, TOKEN)
        monkeypatch.setenv(keyvault_rotation.MANAGEMENT_VARIABLE, arm.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(vault.ca))
        client = keyvault_rotation.client(azure)
        platform = secret_bundles.load_all()["platform"].secrets
        names = {name: secret_bundles.entry_name(azure, Store.KEY_VAULT, name)
                 for name in [*platform, "postgres-administrator", "rabbitmq-credentials"]}  # fmt: skip
        via = {
            "postgres": ("127.0.0.1", environment.ports["postgres"]),
            "redis": ("127.0.0.1", arm.cache.port),
            "rabbitmq": ("127.0.0.1", environment.ports["rabbitmq"]),
            "rabbitmq-management": ("127.0.0.1", environment.ports["rabbitmq_management"]),
        }

        def rotate(secret: str | None = None) -> None:
            secret_rotation.rotate(azure.name, "platform", secret, 0, azure.name, report=ignore, via=via)

        def current(secret: str) -> dict[str, str]:
            return json.loads(client.get_secret(names[secret]).value)

        def cache_accepts(key: str) -> bool:
            cache = credential_servers.AzureCacheKeys(via["redis"], None, group, cache_name, tls=False)
            return cache.accepts(credential_servers.ACCESS_KEY_USER, key)

        for name in platform:  # as the stack makes them
            client.set_secret(names[name], "{}")
        with pytest.raises(OpsError, match="postgres-administrator: the server's administrator is not in"):
            rotate("analytics-credentials")
        administrator = {"username": "postgres", "password": environment.credentials["postgres/admin"]}
        client.set_secret(names["postgres-administrator"], json.dumps(administrator))
        # the cluster's RabbitMQ administrator, as the chart names it, in the vault and the broker
        rabbit_admin = local.new_password()
        client.set_secret(names["rabbitmq-credentials"], json.dumps({"rabbitmq-password": rabbit_admin}))
        broker = local.servers(environment).by_kind["rabbitmq"]
        definitions = credential_servers.rabbit_definitions(
            {aws_rotation.RABBITMQ_ADMIN: [rabbit_admin]}, local.RABBITMQ_VHOST
        )
        definitions["users"][0]["tags"] = ["administrator"]
        broker.load(definitions)
        database = local.servers(environment).by_kind["postgres"]
        try:
            rotate("analytics-credentials")
            first = current("analytics-credentials")
            assert database.accepts(first["postgres-username"], first["postgres-password"])
            rotate("analytics-credentials")
            second = current("analytics-credentials")
            assert second["postgres-username"] == "platform-analytics-clone"
            assert database.accepts(second["postgres-username"], second["postgres-password"])
            assert not database.accepts(first["postgres-username"], first["postgres-password"])

            # one holder of the cache's key cannot move alone: the others would lose it at retirement
            with pytest.raises(OpsError, match="api-rest-credentials shares Azure Cache for Redis's access"):
                rotate("api-rest-credentials")

            holders = [name for name in platform if "redis-password" in platform[name].keys]
            entries = [names[holder] for holder in holders]

            def dies_creating(after: int) -> None:
                """A run killed once `after` holders got their pending version."""
                dying = secret_rotation._prepared(azure, secret_rotation.targets(azure, "platform", None), 0,
                                                  via, ignore)  # fmt: skip
                made = dying.fresh

                def fresh(declared, values):
                    if len(dying.states(secret_versions.Phase.PENDING)) == after:
                        raise Killed
                    return made(declared, values)

                dying.fresh = fresh
                dying.plan()
                with pytest.raises(Killed):
                    dying.create()

            def shared_key() -> str:
                keys = {current(name)["redis-password"] for name in holders}
                assert len(keys) == 1 and {current(name)["redis-username"] for name in holders} == {"default"}
                return keys.pop()

            # first values, the first run killed after three holders: every holder takes one key,
            # and the cache accepts no other
            dies_creating(after=3)
            rotate()
            first_key = shared_key()
            assert first_key in arm.cache.keys.values() and cache_accepts(first_key)
            (other,) = set(arm.cache.keys.values()) - {first_key}
            assert not cache_accepts(other.swapcase())  # a wrong key is refused
            for name in platform:
                values = current(name)
                assert database.accepts(values["postgres-username"], values["postgres-password"])
                if "rabbitmq-username" in values:
                    assert broker.accepts(values["rabbitmq-username"], values["rabbitmq-password"])

            # a holder emptied by hand (or added since): the others keep their key until they move
            client.set_secret(names["voice-credentials"], "{}")
            stopped = secret_rotation._prepared(azure, secret_rotation.targets(azure, "platform", None), 0,
                                                via, ignore)  # fmt: skip
            for step in (stopped.plan, stopped.create, stopped.set):
                step()
            assert cache_accepts(first_key), "the holders' current key was regenerated before they moved"
            rotate()
            second_key = shared_key()
            assert cache_accepts(second_key) and not cache_accepts(first_key), "the old key still works"

            # a run dies after three holders got their pending version: the next one gives the
            # others the same key, regenerating none but the old one at retirement
            dies_creating(after=3)
            regenerated = len(arm.cache.regenerated)
            rotate()
            third_key = shared_key()
            assert third_key != second_key
            assert cache_accepts(third_key) and not cache_accepts(second_key), "the old key still works"
            assert len(arm.cache.regenerated) == regenerated + 1, "the chosen key was replaced"
            assert secret_versions.token_in_flight(keyvault_rotation.store(azure), entries) is None
        finally:  # the shared environment's own users of these names, as its store has them
            valid = local.valid_accounts(environment)
            local.converge_accounts(
                environment, {"postgres": valid["postgres"], "rabbitmq": valid["rabbitmq"]}
            )
            broker._call("DELETE", f"/api/users/{aws_rotation.RABBITMQ_ADMIN}")
            # a standing backup taken meanwhile holds that user, which a restore would bring back
            protection.backup_rabbitmq(environment)


class Killed(Exception):
    """A rotation run stopped between two of its store writes."""


class Died(BaseException):
    """A rotation run killed after a step (no step's error handling sees it, as with SIGKILL)."""


def die(pid: int, signal_number: int) -> None:
    """os.kill for a rotation told to die after a step: the run stops there, the test goes on."""
    raise Died


# --- disaster-recovery drills -------------------------------------------------------------
# On the shared environment, after the rotations above: a restore must bring rotated
# credentials back too.


@pytest.mark.parametrize("scenario", list(drills.LOCAL_DRILLS))
def test_a_drill_destroys_the_server_restores_it_from_standing_protection_and_measures_rto_and_rpo(
    environment, scenario
):
    result = invoke("dr.drill", "--env", "local", "--scenario", scenario, "--json")
    report = drills.last_report("local")
    assert report is not None and report["scenario"] == scenario, output_tail(result)
    # elapsed time never fails this test: a missed target only turns the exit code to 1
    missed = [name for name in ("rto", "rpo") if not report[name]["met"]]
    assert result.returncode == (1 if missed else 0), output_tail(result)
    assert all(problem.split()[0] in ("RTO", "RPO") for problem in report["problems"]), report["problems"]
    assert [phase["name"] for phase in report["phases"]] == [
        "prepare",
        "fail",
        "restore",
        "verify",
        "re-protect",
        "report",
    ]
    assert report["rto"]["achieved_seconds"] > 0 and report["rpo"]["achieved_seconds"] >= 0
    canary = report["canary"]
    assert canary["acknowledged"] >= 25 and canary["returned"] > 0 and canary["lost_older_than_rpo"] == 0
    assert report["data"] and all(check["match"] for check in report["data"].values()), report["data"]
    assert Path(report["files"][1]).read_text().startswith(f"# Drill {scenario} on local: ")
    audits = sorted((Path(os.environ["VOICEOPS_STATE_DIR"]) / "audit").glob("*-local-dr-drill.json"))
    assert json.loads(audits[-1].read_text())["result"] == ("failed" if missed else "succeeded")
    # the data checks compared roles, ACL users and broker users with their password hashes,
    # rotated ones included: every credential came back (the next test logs in with each)


def test_lost_postgres_data_is_restored_to_a_point_in_time_and_up_never_hides_the_loss(environment):
    """After the drills: the protection they started over holds what a real restore needs."""
    database = drills.DatabaseDrill(local.Layout.load(), "pitr")
    with database._connect() as admin:
        admin.execute("CREATE TABLE voiceops_drill.pitr (n int)")
        admin.execute("INSERT INTO voiceops_drill.pitr VALUES (1)")
        time.sleep(0.3)
        target = datetime.datetime.now(datetime.UTC)
        time.sleep(0.3)
        admin.execute("INSERT INTO voiceops_drill.pitr VALUES (2)")
    # a rotation after the recovery point: its roles are data the restore rewinds
    retired = local.accounts(current(environment, "analytics-credentials"))
    secret_rotation.rotate("local", "platform", "analytics-credentials", 0, None, report=ignore)
    rotated = local.accounts(current(environment, "analytics-credentials"))
    with pytest.raises(OpsError, match="PostgreSQL is running: a restore replaces its data"):
        drills.restore("local", "postgres", target, force=False, confirm=None)
    assert states()["postgres"] == "running"
    kill("postgres")  # the incident: the server dies and its data directory is lost
    shutil.rmtree(database.data_path())
    # the PostgreSQL step of local.up refuses to hide the loss behind an empty cluster
    with pytest.raises(
        local.LocalError, match=r"standing protection holds a backup: restore it with invoke dr\.restore"
    ):
        local.start_postgres(local.Layout.load())
    assert not (database.data_path() / "PG_VERSION").exists()  # no empty cluster in its place
    run = drills.restore("local", "postgres", target, force=False, confirm=None)
    assert run.record.result == "succeeded"
    with database._connect() as admin:
        assert admin.execute("SELECT n FROM voiceops_drill.pitr").fetchall() == [(1,)]
        admin.execute("DROP TABLE voiceops_drill.pitr")
    layout = local.Layout.load()
    assert all(local.account_accepted(layout, account) for account in rotated)
    assert not any(local.account_accepted(layout, account) for account in retired)
    assert_healthy(layout)


def test_a_restore_replays_every_archived_segment_before_the_server_takes_writes(environment):
    """Many WAL segments after the base backup: the restore ends only once all are replayed."""
    database = drills.DatabaseDrill(environment, "replay")
    rows = 300_000  # about 90 MB of WAL: segments the restore fetches from the archive
    with database._connect() as admin:
        admin.execute("CREATE SCHEMA IF NOT EXISTS voiceops_drill")
        admin.execute("CREATE TABLE voiceops_drill.replay (n int, pad text)")
        fill = "INSERT INTO voiceops_drill.replay SELECT g, repeat('x', 200) FROM generate_series(1, %s) g"
        admin.execute(fill, (rows,))
        admin.execute("SELECT pg_switch_wal()")
        written = admin.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        query = "SELECT bool_and(flush_lsn >= %s) FROM pg_stat_replication"
        deadline = time.monotonic() + 60
        while admin.execute(query, (written,)).fetchone() != (True,):  # the stream has all of it
            assert time.monotonic() < deadline, "the WAL stream did not receive the inserts"
            time.sleep(0.2)
    kill("postgres")
    shutil.rmtree(database.data_path())
    assert drills.restore("local", "postgres", None, force=False, confirm=None).record.result == "succeeded"
    with database._connect() as admin:
        assert admin.execute("SELECT count(*) FROM voiceops_drill.replay").fetchone() == (rows,)
        admin.execute("DROP TABLE voiceops_drill.replay")
    assert_healthy(local.Layout.load())


@pytest.fixture
def linode(environment, emulated_aws, tmp_path, monkeypatch):
    """A Linode environment's store, a git checkout of a real remote (sealed manifests), and the
    tests' Linode API endpoint, whose three managed databases are this run's PostgreSQL; the users
    and databases the test makes there are dropped after it."""
    from tests.unit.linode_api_emulator import TOKEN, LinodeApiEmulator
    from tests.unit.sealed_checkout import make_checkout

    work = make_checkout(tmp_path, monkeypatch, "staging")
    owner = environments.load("production").terraform
    assert owner is not None
    admin = ("postgres", environment.credentials["postgres/admin"])
    port = environment.ports["postgres"]
    databases = {f"{owner.workload}-{owner.stage}-{name}": (local.HOST, port, *admin)
                 for name in linode_servers.DATABASES}  # fmt: skip
    with LinodeApiEmulator(databases) as api:
        monkeypatch.setenv(linode_servers.URL_VARIABLE, api.url)
        monkeypatch.setenv(linode_servers.TOKEN_VARIABLE, TOKEN)
        try:
            yield work
        finally:  # these users and databases are not the shared environment's
            with psycopg.connect(host=local.HOST, port=port, user=admin[0], password=admin[1],
                                 dbname="postgres", autocommit=True) as connection:  # fmt: skip
                for name in ("staging", "production"):
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}-{local.PLATFORM_DATABASE}"')
                query = "SELECT rolname FROM pg_roles WHERE rolname ~ '^(staging|production|legacy)-'"
                for (role,) in connection.execute(query).fetchall():
                    connection.execute(f'DROP ROLE "{role}"')


def linode_rotate(
    work: Path, name: str, bundle: str, secret: str | None, **options: object
) -> dict[str, str]:
    """A Linode rotation that pauses until its values are on main, then completes: the secret's
    current values (the bundle's first secret's without --secret)."""
    from tests.unit.sealed_checkout import deliver

    with pytest.raises(OpsError, match="commit those files"):
        secret_rotation.rotate(name, bundle, secret, 0, name, report=ignore, **options)
    deliver(work)
    assert (
        secret_rotation.rotate(name, bundle, secret, 0, name, report=ignore, **options)[0].result
        == "succeeded"
    )
    deliver(work, "the rotation's state")
    return sealed_current(name, secret or next(iter(secret_bundles.load_all()[bundle].secrets)))


def sealed_current(name: str, secret: str) -> dict[str, str]:
    store = sealed_rotation.store(environments.load(name))
    return json.loads(secret_versions.current_string(store, secret))


def platform_accepts(layout: local.Layout, name: str, values: dict[str, str]) -> bool:
    """Whether the environment's user logs in to its database on the tests' managed databases."""
    admin = ("postgres", layout.credentials["postgres/admin"])
    return credential_servers.PostgresServer(
        (local.HOST, layout.ports["postgres"]), admin, f"{name}-{local.PLATFORM_DATABASE}"
    ).accepts(values["postgres-username"], values["postgres-password"])


def key_dates(secret: str) -> dict[str, str]:
    """When each key of a staging secret was sealed (its manifest's annotation)."""
    (path,) = sealed_rotation.store(environments.load("staging")).manifests(secret)
    annotations = yaml.safe_load(path.read_text())["metadata"]["annotations"]
    return json.loads(annotations[secret_bundles.SEALED_KEYS_AT])


def git_status(work: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=work, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def test_a_linode_rotation_sets_its_environments_own_users_on_every_managed_database(
    environment, linode, monkeypatch
):
    """The cluster's environments share the managed databases, so each environment's users carry
    its name, and one environment's rotation leaves another's users alone."""
    from tests.unit.sealed_checkout import deliver

    work = linode
    first = linode_rotate(work, "staging", "platform", "analytics-credentials")
    assert first["postgres-username"] == "staging-platform-analytics"
    assert platform_accepts(environment, "staging", first)
    second = linode_rotate(work, "staging", "platform", "analytics-credentials")
    assert second["postgres-username"] == "staging-platform-analytics-clone"
    assert platform_accepts(environment, "staging", second)
    assert not platform_accepts(environment, "staging", first), "the old user still works"

    # production's users are its own: staging's stay as they are
    other = linode_rotate(work, "production", "platform", "analytics-credentials")
    assert other["postgres-username"] == "production-platform-analytics"
    assert platform_accepts(environment, "production", other) and platform_accepts(
        environment, "staging", second
    )

    # a login sealed by hand and not named after the environment may be another environment's
    # (the databases are shared): staging's rotation leaves it logged in
    legacy = {"postgres-username": "legacy-analytics", "postgres-password": local.new_password()}
    with psycopg.connect(host=local.HOST, port=environment.ports["postgres"], user="postgres",
                         password=environment.credentials["postgres/admin"], dbname="postgres",
                         autocommit=True) as admin:  # fmt: skip
        admin.execute(f"CREATE ROLE \"legacy-analytics\" LOGIN PASSWORD '{legacy['postgres-password']}'")
        admin.execute('GRANT CONNECT ON DATABASE "staging-platform" TO "legacy-analytics"')
    staging = environments.load("staging")
    sealed = {key: value.encode() for key, value in legacy.items()}
    certificate = secret_bundles.sealing_certificate(staging).read_bytes()
    secret_bundles.seal_values(staging, "platform", "analytics-credentials", sealed, certificate)
    deliver(work, "a login sealed by hand")
    third = linode_rotate(work, "staging", "platform", "analytics-credentials")
    assert platform_accepts(environment, "staging", third) and platform_accepts(
        environment, "staging", legacy
    )

    # the exporter's login (production's: the cluster owner runs it) is a monitoring user, and its
    # auth module, which the probes of the managed databases read, follows it
    def auth_module() -> dict[str, str]:
        text = sealed_current("production", aws_rotation.EXPORTER_AUTH_SECRET)["postgres_exporter.yml"]
        return yaml.safe_load(text)["auth_modules"]["managed"]["userpass"]

    exporter = linode_rotate(work, "production", "observability", aws_rotation.EXPORTER_SECRET)
    assert monitors(environment, exporter)
    linode_rotate(work, "production", "observability", aws_rotation.EXPORTER_AUTH_SECRET)  # its first value
    assert auth_module() == {
        "username": exporter["postgres-username"],
        "password": exporter["postgres-password"],
    }
    # a file written by hand keeps what it says besides the login (its TLS options, other modules)
    production = environments.load("production")
    written = yaml.safe_load(
        sealed_current("production", aws_rotation.EXPORTER_AUTH_SECRET)["postgres_exporter.yml"]
    )
    written["auth_modules"]["managed"]["options"] = {"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"}
    written["auth_modules"]["readonly"] = {"type": "userpass", "userpass": {"username": "r", "password": "p"}}
    secret_bundles.seal_values(production, "observability", aws_rotation.EXPORTER_AUTH_SECRET,
                               {"postgres_exporter.yml": yaml.safe_dump(written).encode()},
                               secret_bundles.sealing_certificate(production).read_bytes())  # fmt: skip
    deliver(work, "the exporter's file written by hand")
    again = linode_rotate(work, "production", "observability", aws_rotation.EXPORTER_SECRET)
    assert again["postgres-username"] == exporter["postgres-username"] + local.CLONE and monitors(
        environment, again
    )
    assert auth_module() == {"username": again["postgres-username"], "password": again["postgres-password"]}
    # rotated alone it says what it said (the login moved with its secret): nothing to deliver
    record, _ = secret_rotation.rotate("production", "observability", aws_rotation.EXPORTER_AUTH_SECRET, 0,
                                       "production", report=ignore)  # fmt: skip
    assert record.result == "succeeded"
    deliver(work, "the rotation's state")
    kept = yaml.safe_load(
        sealed_current("production", aws_rotation.EXPORTER_AUTH_SECRET)["postgres_exporter.yml"]
    )
    assert kept["auth_modules"]["managed"]["options"] == written["auth_modules"]["managed"]["options"]
    assert kept["auth_modules"]["readonly"] == written["auth_modules"]["readonly"]
    assert auth_module() == {"username": again["postgres-username"], "password": again["postgres-password"]}

    monkeypatch.delenv(linode_servers.TOKEN_VARIABLE)
    assert git_status(work) == ""
    with pytest.raises(OpsError, match="no LINODE_TOKEN") as stopped:
        secret_rotation.rotate("staging", "platform", "analytics-credentials", 0, "staging", report=ignore)
    assert stopped.value.exit_code == 5 and git_status(work) == "", "something was changed"
    assert platform_accepts(environment, "staging", third)


class RedisServer:
    """A platform-redis server as the chart starts it: requirepass and masterauth from
    platform-redis-auth, and the users from the ACL file its Secret mounts (read-only)."""

    def __init__(self, directory: Path, password: str, acl: str) -> None:
        self.directory, self.password = directory, password
        directory.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind((local.HOST, 0))
            self.address = (local.HOST, probe.getsockname()[1])
        self.start(acl)

    def start(self, acl: str) -> None:
        (self.directory / "users.acl").write_text(acl)
        (self.directory / "users.acl").chmod(0o444)
        config = self.directory / "redis.conf"
        lines = [f"bind {local.HOST}", f"port {self.address[1]}", f"dir {self.directory}", 'save ""',
                 f"aclfile {self.directory / 'users.acl'}", f"requirepass {self.password}",
                 f"masterauth {self.password}"]  # fmt: skip
        config.write_text("\n".join(lines) + "\n")
        command = [local.binary("redis-server"), str(config)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        env=local.server_env())  # fmt: skip
        local.wait_for(lambda: local.port_listening(self.address[1]), "a platform-redis server", timeout=20)

    def restart(self, acl: str) -> None:
        self.stop()
        (self.directory / "users.acl").chmod(0o644)
        self.start(acl)

    def accepts(self, user: str, password: str) -> bool:
        return credential_servers.RedisAclServer(self.address, ("default", self.password)).accepts(
            user, password
        )

    def _client(self) -> redis.Redis:
        return redis.Redis(
            host=self.address[0], port=self.address[1], username="default", password=self.password
        )

    def replicate(self, master: "RedisServer") -> None:
        """Follow `master`, signing in with masterauth; wait until the link is up."""
        client = self._client()
        try:
            client.execute_command("REPLICAOF", *master.address)
            local.wait_for(lambda: client.info("replication").get("master_link_status") == "up",
                           "replication as the default user", timeout=20)  # fmt: skip
        finally:
            client.close()

    def acl_saves(self) -> int:
        client = self._client()
        try:
            return int((client.info("commandstats").get("cmdstat_acl|save") or {}).get("calls", 0))
        finally:
            client.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def test_a_linode_rotation_sets_every_servers_users_and_delivers_what_they_read_at_boot(
    environment, linode, tmp_path, monkeypatch
):
    """The integrations service's credential holds a PostgreSQL, a RabbitMQ and a Redis user.
    Against this run's PostgreSQL (the managed databases), RabbitMQ (behind --via, as a
    port-forward gives it from the delivery runner) and two Redis servers started as the
    platform-redis chart starts them (each behind a tunnel of its own: ACLs do not replicate),
    the users are set on every server, and what the servers read at boot (RabbitMQ's definitions,
    platform-redis's ACL file) must reach main with the values, so a server restarting keeps them."""
    from tests.unit.sealed_checkout import deliver, git

    work, secret = linode, "integrations-credentials"
    broker = local.servers(environment).by_kind["rabbitmq"]
    redis_servers: list[RedisServer] = []
    try:
        # the broker's administrator and platform-redis's passwords and users: their bundles' first values
        linode_rotate(work, "staging", "messaging", None)
        broker.load(
            json.loads(sealed_current("staging", aws_rotation.DEFINITIONS_SECRET)["load_definition.json"])
        )
        # platform-redis's first values: no server runs without them, so none is set; its
        # servers start once they are on main, and the run resumed then reaches them
        with pytest.raises(OpsError, match="commit those files"):
            secret_rotation.rotate("staging", "platform-redis", None, 0, "staging", report=ignore)
        password = sealed_current("staging", linode_servers.AUTH_SECRET)["redis-password"]
        acl = sealed_current("staging", aws_rotation.REDIS_ACL_SECRET)["users.acl"]
        for n in range(3):  # each in the list as soon as it runs: the test stops every one
            redis_servers.append(RedisServer(tmp_path / f"redis-{n}", password, acl))
        # the `default` user is the servers' own: its password alone lets in, and a replica
        # authenticates to its master with it (masterauth), as redis-ha's do
        assert redis_servers[0].accepts("default", password) and not redis_servers[0].accepts(
            "default", "guess"
        )
        redis_servers[2].replicate(redis_servers[0])
        via = {"rabbitmq": (local.HOST, environment.ports["rabbitmq"]),
               "rabbitmq-management": (local.HOST, environment.ports["rabbitmq_management"]),
               "redis": redis_servers[0].address, "redis-1": redis_servers[1].address,
               "redis-2": redis_servers[2].address}  # fmt: skip
        deliver(work)
        secret_rotation.rotate("staging", "platform-redis", None, 0, "staging", report=ignore, via=via)
        deliver(work, "the rotation's state")
        one = {kind: address for kind, address in via.items() if kind not in ("redis-1", "redis-2")}
        with pytest.raises(OpsError, match="--via names 1 Redis server"):
            secret_rotation.rotate("staging", "platform", secret, 0, "staging", report=ignore, via=one)

        def rotate() -> dict[str, str]:
            record, _ = secret_rotation.rotate(
                "staging", "platform", secret, 0, "staging", report=ignore, via=via
            )
            assert record.result == "succeeded"
            return sealed_current("staging", secret)

        with pytest.raises(OpsError, match="commit those files"):
            rotate()
        # the values alone on main are not enough: a server booting would not know the new users
        store = sealed_rotation.store(environments.load("staging"))
        git(
            work, "add", *map(str, store.manifests(secret)), "environments", "secrets/sealed/staging/rotation"
        )
        git(work, "commit", "--quiet", "-m", "the values alone")
        git(work, "push", "--quiet", "origin", "main")
        with pytest.raises(OpsError, match="commit those files"):
            rotate()
        deliver(work)
        first = rotate()
        deliver(work, "the rotation's state")
        assert first["rabbitmq-username"] == "staging-platform-integrations" == first["redis-username"]
        assert broker.accepts(first["rabbitmq-username"], first["rabbitmq-password"])
        assert platform_accepts(environment, "staging", first)
        assert all(
            server.accepts(first["redis-username"], first["redis-password"]) for server in redis_servers
        )
        # a server restarting reads the delivered file, which names the user with its password's hash
        acl = sealed_current("staging", aws_rotation.REDIS_ACL_SECRET)["users.acl"]
        assert first["redis-password"] not in acl
        redis_servers[1].restart(acl)
        assert redis_servers[1].accepts(first["redis-username"], first["redis-password"])

        service_dates = key_dates(secret)
        time.sleep(1.1)  # dates are in whole seconds
        definitions_on_main = sealed_current("staging", aws_rotation.DEFINITIONS_SECRET)[
            "load_definition.json"
        ]
        with pytest.raises(OpsError, match="commit those files"):
            rotate()
        # promoted in the store, not yet on main: every server accepts the new password (a login
        # accepted by only some servers is neither accepted nor refused)
        (new_redis,) = [a for a in local.accounts(sealed_current("staging", secret)) if a.server == "redis"]
        admin = ("default", password)
        every = credential_servers.EveryServer(
            tuple(credential_servers.RedisAclServer(server.address, admin) for server in redis_servers)
        )
        assert every.accepts(new_redis.username, new_redis.password)
        # servers booting before the values reach main read what main has: without the new users
        broker.load(json.loads(definitions_on_main))
        redis_servers[0].restart(acl)
        assert not every.accepts(new_redis.username, new_redis.password)
        assert not every.refuses(new_redis.username, new_redis.password), "one server still accepts it"
        deliver(work)
        # once on main the readers move: the run sets the users again before the grace, and a
        # run killed after it leaves every server accepting the new credentials
        with monkeypatch.context() as killing, pytest.raises(Died):
            killing.setattr(secret_rotation.os, "kill", die)
            killing.setenv(secret_rotation.CRASH_VARIABLE, "grace")
            rotate()
        promoted = sealed_current("staging", secret)
        assert every.accepts(new_redis.username, new_redis.password)
        assert broker.accepts(promoted["rabbitmq-username"], promoted["rabbitmq-password"])
        record, _ = secret_rotation.rotate(
            "staging", "platform", secret, 0, "staging", report=ignore, via=via
        )
        # what the servers read at boot, without the retired credentials, is left to bring to main
        assert "(the rotation's state and values)" in record.steps[-1].detail
        deliver(work, "the rotation's state")
        second = sealed_current("staging", secret)
        # every key of the secret is as new as its rotation, its Redis user too (the same user with
        # a new password): the audit dates a sealed secret by its oldest key
        assert all(key_dates(secret)[key] > service_dates[key] for key in service_dates), key_dates(secret)
        assert second["rabbitmq-username"] == "staging-platform-integrations-clone"
        assert second["redis-username"] == first["redis-username"], "Redis keeps the user, two passwords"
        assert broker.accepts(second["rabbitmq-username"], second["rabbitmq-password"])
        assert not broker.accepts(first["rabbitmq-username"], first["rabbitmq-password"]), (
            "the old user works"
        )
        for server in redis_servers:
            assert server.accepts(second["redis-username"], second["redis-password"])
            assert not server.accepts(first["redis-username"], first["redis-password"]), (
                "the old password works"
            )
        definitions = json.loads(
            sealed_current("staging", aws_rotation.DEFINITIONS_SECRET)["load_definition.json"]
        )
        hashes = {user["name"]: user.get("password_hash", "") for user in definitions["users"]}
        assert credential_servers.rabbit_hash_matches(
            hashes[second["rabbitmq-username"]], second["rabbitmq-password"]
        )
        assert not hashes.get(first["rabbitmq-username"]), "the retired user would come back at boot"
        redis_servers[0].restart(sealed_current("staging", aws_rotation.REDIS_ACL_SECRET)["users.acl"])
        assert redis_servers[0].accepts(second["redis-username"], second["redis-password"])
        assert not redis_servers[0].accepts(first["redis-username"], first["redis-password"]), "back at boot"
        # the file is the servers' persistence: the rotation never saves over it (a read-only mount)
        assert all(server.acl_saves() == 0 for server in redis_servers)

        # the `default` user's password rotates too: both on every server until the old one is retired
        sentinel = sealed_current("staging", linode_servers.AUTH_SECRET)["sentinel-password"]

        dated = key_dates(linode_servers.AUTH_SECRET)
        time.sleep(1.1)  # dates are in whole seconds
        linode_rotate(work, "staging", "platform-redis", None, via=via)
        auth = sealed_current("staging", linode_servers.AUTH_SECRET)
        assert auth["redis-username"] == "default" and auth["redis-password"] != password
        assert auth["sentinel-password"] == sentinel, "Sentinels check it among themselves: kept"
        # so its date stays, and the audit still finds it due when it is
        assert key_dates(linode_servers.AUTH_SECRET)["sentinel-password"] == dated["sentinel-password"]
        assert key_dates(linode_servers.AUTH_SECRET)["redis-password"] > dated["redis-password"]
        for server in redis_servers:
            assert server.accepts("default", auth["redis-password"]) and not server.accepts(
                "default", password
            )
        # restarted by Reloader with the new password and the file delivered with it
        redis_servers[1].password = auth["redis-password"]
        redis_servers[1].restart(sealed_current("staging", aws_rotation.REDIS_ACL_SECRET)["users.acl"])
        assert redis_servers[1].accepts("default", auth["redis-password"])
        assert redis_servers[1].accepts(second["redis-username"], second["redis-password"])
    finally:
        for server in redis_servers:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                server.stop()
        for user in (
            *local.account_names("rabbitmq", "staging-platform-integrations"),
            aws_rotation.RABBITMQ_ADMIN,
        ):
            with contextlib.suppress(OpsError):
                broker._call("DELETE", f"/api/users/{user}")
        # a standing backup taken meanwhile holds those users, which a restore would bring back
        protection.backup_rabbitmq(environment)
