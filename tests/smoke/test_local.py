"""testinfra smoke tests for the `local` environment (run with --hosts=local://)."""

import pika
import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from voiceops import local


@pytest.mark.parametrize("service", ["postgres", "redis", "rabbitmq", "rabbitmq_stream", "moto"])
def test_service_listens_on_loopback_only(host, layout, service):
    port = layout.ports[service]
    assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_every_port_the_environment_opened_is_on_loopback(layout):
    """Not only the ports we chose: whatever our processes listen on (Erlang distribution, epmd, ...)."""
    sockets = local.listening_sockets()
    assert {"postgres", "redis", "rabbitmq", "epmd", "moto"} <= {kind for kind, _, _ in sockets}
    assert [item for item in sockets if item[1] not in ("127.0.0.1", "::1")] == []
    assert layout.ports["rabbitmq_dist"] in {port for kind, _, port in sockets if kind == "rabbitmq"}


@pytest.mark.parametrize("database", local.DATABASES)
def test_each_service_reaches_its_own_database(layout, database):
    secret = local.read_secret(layout, f"postgres/{database}")
    with psycopg.connect(
        host=secret["host"], port=secret["port"], user=secret["username"],
        password=secret["password"], dbname=secret["dbname"],
    ) as connection:  # fmt: skip
        assert connection.execute("SELECT current_user, current_database()").fetchone() == (
            database,
            database,
        )


def test_postgres_rejects_a_wrong_password(layout):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1", port=layout.ports["postgres"], user="api", password="wrong", dbname="api"
        )


@pytest.mark.parametrize(
    ("user", "prefix"), [(u, p.lstrip("~").rstrip("*")) for u, p in local.REDIS_USERS.items()]
)
def test_redis_acl_users_are_confined_to_their_keys(layout, user, prefix):
    secret = local.read_secret(layout, f"redis/{user}")
    client = redis.Redis(host=secret["host"], port=secret["port"], username=user, password=secret["password"])
    assert client.set(f"{prefix}smoke", "1", ex=60)
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("someone-else:smoke", "1")


def test_redis_default_user_is_disabled(layout):
    # One attempt: redis-py retries connection errors, a refused login among them, for seconds.
    client = redis.Redis(host="127.0.0.1", port=layout.ports["redis"], retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.exceptions.AuthenticationError):
        client.ping()


def rabbit(layout, user):
    secret = local.read_secret(layout, f"rabbitmq/{user}")
    credentials = pika.PlainCredentials(secret["username"], secret["password"])
    return pika.BlockingConnection(
        pika.ConnectionParameters(secret["host"], secret["port"], secret["vhost"], credentials)
    )


def test_usage_queues_exist_durable_with_dead_letters_and_stream(layout):
    with rabbit(layout, "api-router") as connection:
        channel = connection.channel()
        for queue in (local.USAGE_QUEUE, f"{local.USAGE_QUEUE}.dead", f"{local.USAGE_QUEUE}.stream"):
            channel.queue_declare(queue, passive=True)  # raises if absent


def test_usage_event_is_delivered_at_least_once(layout):
    with rabbit(layout, "api-router") as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", local.USAGE_QUEUE, b"smoke", pika.BasicProperties(delivery_mode=2))
    with rabbit(layout, "analytics") as connection:
        channel = connection.channel()
        method, _, body = channel.basic_get(local.USAGE_QUEUE, auto_ack=False)
        assert body == b"smoke"
        channel.basic_ack(method.delivery_tag)


def test_rabbitmq_guest_user_is_gone(layout):
    credentials = pika.PlainCredentials("guest", "guest")
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(
            pika.ConnectionParameters("127.0.0.1", layout.ports["rabbitmq"], "/", credentials)
        )


def test_buckets_are_versioned_and_private(layout):
    s3 = local.aws_client(layout, "s3")
    for bucket in local.BUCKETS:
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())


def test_every_credential_is_in_secrets_manager(layout):
    names = {
        entry["Name"] for entry in local.aws_client(layout, "secretsmanager").list_secrets()["SecretList"]
    }
    assert set(layout.secret_names().values()) <= names
