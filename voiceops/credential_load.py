"""Consumers of a bundle secret under load, as the platform's services use their credentials:
before each new connection a consumer reads the secret's current version from the store, then
connects to PostgreSQL, Redis or RabbitMQ with it and does `per_connection` operations on that
connection. Connections are opened fresh at a steady rate, so a rotation is seen by every
connection after it.

Used by the rotation tests and by scripts/bench_rotation.py; every connection is kept with the
user and password it logged in with, its operations, and its error if one failed.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import signal
import threading
import time
from dataclasses import astuple, dataclass, field

from voiceops import local, secret_versions


@dataclass(frozen=True)
class Connection:
    started: float  # time.time()
    server: str
    username: str
    password: str
    operations: int  # done on it (the failed one included)
    error: str | None  # None: every operation worked


@dataclass
class CredentialLoad:
    """`rate` new connections per second in total over `workers` threads in each of `processes`
    processes (forked: one interpreter's lock would cap the rate), taking turns over the
    servers the secret has users on."""

    layout: local.Layout
    entry: str
    rate: float
    workers: int = 8
    processes: int = 1
    per_connection: int = 1
    connections: list[Connection] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, args=(index,), daemon=True) for index in range(self.workers)
        ]
        self._children: list[tuple[multiprocessing.Process, multiprocessing.connection.Connection]] = []

    def __enter__(self) -> CredentialLoad:
        if self.processes > 1:
            context = multiprocessing.get_context("fork")
            for _ in range(self.processes):
                receiver, sender = context.Pipe(duplex=False)
                share = CredentialLoad(
                    self.layout,
                    self.entry,
                    self.rate / self.processes,
                    self.workers,
                    per_connection=self.per_connection,
                )
                child = context.Process(target=share._in_child, args=(sender, receiver), daemon=True)
                child.start()
                sender.close()
                self._children.append((child, receiver))
            return self
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for child, _ in self._children:
            child.terminate()  # SIGTERM: the child stops its load and sends what it did
        for child, receiver in self._children:
            self.connections.extend(Connection(*fields) for fields in receiver.recv())
            child.join(timeout=30)
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=30)

    def _in_child(self, sender, receiver) -> None:
        receiver.close()
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with self:
            stopped.wait()
        sender.send([astuple(connection) for connection in self.connections])

    def _work(self, index: int) -> None:
        store = local.aws_client(self.layout, "secretsmanager")  # a client per thread
        interval = self.workers / self.rate
        next_start = time.monotonic() + interval * index / self.workers  # spread the threads
        turn = index
        while not self._stop.is_set():
            delay = next_start - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_start += interval
            started = time.time()
            server, username, password, error, done = "store", "", "", None, [0]
            try:
                accounts = local.accounts(json.loads(secret_versions.current_string(store, self.entry)))
                account = accounts[turn % len(accounts)]
                server, username, password = account.server, account.username, account.password
                operate(self.layout, account, self.per_connection, done)
            except Exception as failure:  # every failure counts: the load reports them all
                error = f"{type(failure).__name__}: {failure}"
                done[0] += 1
            turn += 1
            with self._lock:
                self.connections.append(Connection(started, server, username, password, done[0], error))

    def failures(self) -> list[Connection]:
        return [connection for connection in self.connections if connection.error]

    def operations(self) -> int:
        return sum(connection.operations for connection in self.connections)


def operate(layout: local.Layout, account: local.Account, count: int, done: list[int]) -> None:
    """One new connection with the credential and `count` operations on it, counted in `done`;
    raises when refused."""
    if account.server == "postgres":
        import psycopg

        with psycopg.connect(
            host=local.HOST, port=layout.ports["postgres"], user=account.username, password=account.password,
            dbname=local.PLATFORM_DATABASE, connect_timeout=5,
        ) as connection:  # fmt: skip
            for _ in range(count):
                (user,) = connection.execute("SELECT current_user").fetchone()
                if user != account.username:
                    raise RuntimeError(f"logged in as {user}, not {account.username}")
                done[0] += 1
    elif account.server == "redis":
        import redis

        client = redis.Redis(
            host=local.HOST, port=layout.ports["redis"], username=account.username, password=account.password,
            socket_timeout=5, driver_info=None,  # None: no CLIENT SETINFO round trips
        )  # fmt: skip
        try:
            for _ in range(count):
                client.incr(f"{account.username}:operations")
                done[0] += 1
        finally:
            client.close()
    else:
        import pika

        credentials = pika.PlainCredentials(account.username, account.password)
        parameters = pika.ConnectionParameters(
            local.HOST, layout.ports["rabbitmq"], local.RABBITMQ_VHOST, credentials,
            connection_attempts=1, socket_timeout=5,
        )  # fmt: skip
        with pika.BlockingConnection(parameters) as connection:
            channel = connection.channel()
            for _ in range(count):
                channel.basic_publish(exchange="", routing_key="rotation-probe", body=b"probe")
                done[0] += 1
