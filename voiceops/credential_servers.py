"""The servers whose users the bundle secrets hold, reached by address, each able to accept
exactly a given set of passwords per user and to say whether a login works: PostgreSQL roles,
RabbitMQ users (through the management API's definitions import), Redis ACL users,
ElastiCache's RBAC users, which stand in for Redis ACL commands on AWS, and Azure Cache for
Redis's two access keys, the passwords of its one user. The local environment and the clouds
share them; only the addresses and the administrators differ."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from voiceops.errors import OpsError, first_line

USERS_ONLY = dict[str, list[str]]  # user -> the passwords it must accept; [] = it logs in no more


class ServerError(OpsError):
    pass


@dataclass(frozen=True)
class Account:
    server: str
    username: str
    password: str


class Server(Protocol):
    address: tuple[str, int]

    @property
    def probes(self) -> list[tuple[str, int]]: ...  # what must answer before anything changes

    def converge(self, users: USERS_ONLY) -> None: ...

    def accepts(self, username: str, password: str) -> bool: ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (an HTTPError), never followed: urllib would send the credentials
    to wherever it points, plain http included."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def call_json(
    url: str, authorization: str, method: str = "GET", body: dict[str, Any] | None = None, timeout: float = 30
) -> Any:
    """An HTTP API's JSON answer (None for an empty one); urllib's errors pass through, and so does
    a connection dropped before the answer (OSError, http.client.HTTPException)."""
    if not url.startswith(("http://", "https://")):
        raise ServerError(f"an API's URL must be http(s): {url}")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (checked above: http or https only)
        url, method=method, data=data,
        headers={"Content-Type": "application/json", "Authorization": authorization},
    )  # fmt: skip
    with _OPENER.open(request, timeout=timeout) as response:
        answer = response.read()
    return json.loads(answer) if answer.strip() else None


def reachable(address: tuple[str, int], timeout: float = 3.0) -> bool:
    try:
        socket.create_connection(address, timeout=timeout).close()
    except OSError:
        return False
    return True


def wait_until(check: Callable[[], bool], what: str, timeout: float, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ServerError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# what libpq reports when the server itself turns a login down
POSTGRES_REFUSALS = ("password authentication failed", "is not permitted to log in")


@dataclass(frozen=True)
class PostgresServer:
    """Roles of the platform database; the administrator creates the database on first use.
    `memberships`: the roles a user is granted besides CONNECT (the exporter's pg_monitor)."""

    address: tuple[str, int]
    admin: tuple[str, str]
    database: str
    sslmode: str = "prefer"
    memberships: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def probes(self) -> list[tuple[str, int]]:
        return [self.address]

    def _connect(self, user: str, password: str, database: str):
        import psycopg

        host, port = self.address
        return psycopg.connect(host=host, port=port, user=user, password=password, dbname=database,
                               sslmode=self.sslmode, connect_timeout=5, autocommit=True)  # fmt: skip

    def converge(self, users: USERS_ONLY) -> None:
        """PostgreSQL keeps one password per role: the newest; a role with none logs in no more
        (its open sessions run on)."""
        from psycopg import sql

        with self._connect(*self.admin, "postgres") as admin:
            database = sql.Identifier(self.database)
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone():
                admin.execute(sql.SQL("CREATE DATABASE {}").format(database))
                admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
            for user, passwords in users.items():
                role = sql.Identifier(user)
                query = "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s"
                found = admin.execute(query, (user,)).fetchone()
                if passwords:
                    password = sql.Literal(passwords[-1])
                    if found is None:
                        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, password))
                    admin.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role))
                    for member_of in self.memberships.get(user, ()):
                        admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(member_of), role))
                    # a password set again gets a new salt: only a role that refuses it is changed,
                    # so converging what a server already accepts changes nothing
                    if found is not None and not (found[0] and self.accepts(user, passwords[-1])):
                        admin.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, password))
                elif found is not None and found[0]:
                    admin.execute(sql.SQL("ALTER ROLE {} NOLOGIN PASSWORD NULL").format(role))

    def accepts(self, username: str, password: str) -> bool:
        """Whether the server lets this login in; a server that cannot be reached is an error,
        not a refusal (a retired credential is not shown refused by a dropped tunnel)."""
        import psycopg

        try:
            self._connect(username, password, self.database).close()
        except psycopg.OperationalError as error:
            if any(phrase in str(error) for phrase in POSTGRES_REFUSALS):
                return False
            raise ServerError(f"PostgreSQL at {':'.join(map(str, self.address))}: {error}") from None
        return True


@dataclass(frozen=True)
class EveryServer:
    """The same users on several servers (Linode's managed databases, one per service; the
    servers of an in-cluster Redis, whose ACLs do not replicate): a login is accepted once every
    server accepts it, and refused once every one refuses it; in between, a change is still
    reaching them."""

    servers: tuple[Any, ...]

    @property
    def address(self) -> tuple[str, int]:
        return self.servers[0].address if self.servers else ("", 0)

    @property
    def admin(self) -> tuple[str, str]:
        return self.servers[0].admin if self.servers else ("", "")

    @property
    def probes(self) -> list[tuple[str, int]]:
        return [server.address for server in self.servers]

    def converge(self, users: USERS_ONLY) -> None:
        for server in self.servers:
            server.converge(users)

    def accepts(self, username: str, password: str) -> bool:
        return all(server.accepts(username, password) for server in self.servers)

    def refuses(self, username: str, password: str) -> bool:
        return not any(server.accepts(username, password) for server in self.servers)


def rabbit_hash(password: str) -> str:
    """RabbitMQ's salted SHA-256 password hash (rabbit_password_hashing_sha256)."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def rabbit_hash_matches(password_hash: str, password: str) -> bool:
    """Whether a salted SHA-256 hash is of this password."""
    try:
        raw = base64.b64decode(password_hash, validate=True)
    except ValueError:
        return False
    return len(raw) == 36 and hashlib.sha256(raw[:4] + password.encode()).digest() == raw[4:]


def rabbit_definitions(users: USERS_ONLY, vhost: str) -> dict[str, Any]:
    """The users' part of a definitions document: the newest password's hash for an accepted
    user, an empty hash (no password login) for a retired one, full rights on the vhost."""
    return {
        "users": [
            {"name": user, "password_hash": rabbit_hash(passwords[-1]) if passwords else "",
             "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}
            for user, passwords in users.items()
        ],
        "permissions": [
            {"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"} for user in users
        ],
    }  # fmt: skip


@dataclass(frozen=True)
class RabbitServer:
    """Users of one vhost, set by one definitions import through the management API (what
    `rabbitmqctl import_definitions` does, without a shell on a node); logins checked over AMQP."""

    address: tuple[str, int]  # AMQP
    management: str  # the management API's base URL
    admin: tuple[str, str]
    vhost: str
    tls: bool = False

    @property
    def probes(self) -> list[tuple[str, int]]:
        parsed = urllib.parse.urlsplit(self.management)
        return [
            self.address,
            (parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)),
        ]

    def converge(self, users: USERS_ONLY) -> None:
        """One import, only when a user's hash is not of its newest password (or, retired, not
        empty) or it lacks its rights on the vhost: a hash set again gets a new salt, so
        converging what the broker has changes nothing."""
        hashes = {user["name"]: user.get("password_hash", "") for user in self._call("GET", "/api/users")}
        rights = {
            grant["user"]: (grant["configure"], grant["write"], grant["read"])
            for grant in self._call("GET", "/api/permissions")
            if grant["vhost"] == self.vhost
        }

        def settled(user: str, passwords: list[str]) -> bool:
            if not passwords:  # retired: no password login, or no such user
                return not hashes.get(user)
            full = rights.get(user) == (".*", ".*", ".*")
            return full and rabbit_hash_matches(hashes.get(user, ""), passwords[-1])

        if not all(settled(user, passwords) for user, passwords in users.items()):
            self.load(rabbit_definitions(users, self.vhost))

    def load(self, definitions: dict[str, Any]) -> None:
        """Import a definitions document: what it names is created or updated, nothing else."""
        self._call("POST", "/api/definitions", definitions)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        token = base64.b64encode(":".join(self.admin).encode()).decode()
        try:
            return call_json(f"{self.management}{path}", f"Basic {token}", method, body)
        except urllib.error.HTTPError as error:
            detail = error.read()[:200].decode(errors="replace")
            raise ServerError(f"RabbitMQ refused {method} {path}: HTTP {error.code} {detail}") from None
        except (OSError, http.client.HTTPException) as error:  # URLError, or a connection dropped
            reason = getattr(error, "reason", error)
            raise ServerError(f"RabbitMQ's management API at {self.management}: {reason}") from None

    def accepts(self, username: str, password: str) -> bool:
        import ssl

        import pika

        host, port = self.address
        options = pika.SSLOptions(ssl.create_default_context(), host) if self.tls else None
        parameters = pika.ConnectionParameters(
            host, port, self.vhost, pika.PlainCredentials(username, password), connection_attempts=1,
            socket_timeout=5, ssl_options=options,
        )  # fmt: skip
        try:
            pika.BlockingConnection(parameters).close()
        except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.ProbableAccessDeniedError):
            return False
        except pika.exceptions.AMQPError as error:
            raise ServerError(f"RabbitMQ at {host}:{port}: {type(error).__name__} {error}") from None
        return True


REDIS_SERVER_USER = "default"  # an in-cluster Redis's own: replication, Sentinel, HAProxy, the exporter


def redis_rules(user: str, passwords: list[str], hashed: bool = False) -> list[str]:
    """An ACL user's rules: its key prefix, everything but the dangerous commands; `resetpass`
    replaces the passwords in one command, so the user never has none. The server's own user
    (`default`) keeps every key, channel and command. `hashed`: each password as its SHA-256
    (an ACL file holds no password)."""
    given = [f"#{hashlib.sha256(p.encode()).hexdigest()}" if hashed else f">{p}" for p in passwords]
    state = ["on", "resetpass", *given] if passwords else ["off"]
    if user == REDIS_SERVER_USER:
        return ["user", user, *state, "~*", "&*", "+@all"]
    return ["user", user, *state, "resetkeys", f"~{user}:*", "+@all", "-@dangerous"]


def _redis_login(
    address: tuple[str, int], username: str, password: str, tls: bool, check_hostname: bool = True
) -> bool:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    host, port = address
    client = redis.Redis(
        host=host, port=port, username=username, password=password, ssl=tls, socket_timeout=5,
        ssl_check_hostname=check_hostname, retry=Retry(NoBackoff(), 0),  # a refused login is an answer
    )  # fmt: skip
    try:
        return bool(client.ping())
    except redis.AuthenticationError:  # before ConnectionError: it is one
        return False
    except redis.ConnectionError as error:
        raise ServerError(f"Redis at {host}:{port}: {error}") from None
    finally:
        client.close()


@dataclass(frozen=True)
class RedisAclServer:
    """ACL users set with ACL SETUSER by an administrator user, saved to the ACL file unless
    the file is read-only (`saves` False: a Secret the server reads at boot, kept elsewhere)."""

    address: tuple[str, int]
    admin: tuple[str, str]
    saves: bool = True

    @property
    def probes(self) -> list[tuple[str, int]]:
        return [self.address]

    def converge(self, users: USERS_ONLY) -> None:
        import redis

        host, port = self.address
        admin = redis.Redis(host=host, port=port, username=self.admin[0], password=self.admin[1])
        try:
            for user, passwords in users.items():
                admin.execute_command("ACL", "SETUSER", *redis_rules(user, passwords)[1:])
            if self.saves:
                admin.execute_command("ACL", "SAVE")  # the ACL file is the server's persistence
        finally:
            admin.close()

    def accepts(self, username: str, password: str) -> bool:
        return _redis_login(self.address, username, password, tls=False)


def elasticache_user_id(group: str, username: str) -> str:
    """ElastiCache user ids are unique in the account and region, 40 characters at most: the
    group's and user's names, shortened, and a digest that keeps them apart."""
    digest = hashlib.sha256(f"{group}/{username}".encode()).hexdigest()[:8]
    return f"{group[:14]}-{username[:16]}-{digest}".replace("--", "-")


@dataclass(frozen=True)
class ElastiCacheUsers:
    """RBAC users of a replication group's user group: ElastiCache has no ACL SETUSER, but each
    user may hold two passwords (ModifyUser), the old and the new one through a rotation."""

    address: tuple[str, int]  # the configuration endpoint (TLS)
    client: Any  # a boto3 elasticache client
    group: str  # the user group the replication group uses
    tunnelled: bool = False  # reached through a tunnel: the certificate names the endpoint, not it
    timeout: float = 900.0

    @property
    def probes(self) -> list[tuple[str, int]]:
        return [self.address]

    def _user(self, user_id: str) -> dict | None:
        try:
            return self.client.describe_users(UserId=user_id)["Users"][0]
        except self.client.exceptions.UserNotFoundFault:
            return None

    def _settled(self, user_ids: Iterable[str]) -> bool:
        """The group and these users active: every node applied the change."""
        group = self.client.describe_user_groups(UserGroupId=self.group)["UserGroups"][0]
        return group["Status"] == "active" and all(
            (self._user(user_id) or {}).get("Status") == "active" for user_id in user_ids
        )

    def _wait(self, user_ids: list[str], what: str) -> None:
        wait_until(lambda: self._settled(user_ids), f"{what} ({self.group})", self.timeout, interval=5.0)

    def converge(self, users: USERS_ONLY) -> None:
        """Each user's passwords (the newest two) and its key prefix; a user outside the group
        joins it, also when a run that created it died before. Waits until ElastiCache applied
        all of it, since a login answered by one node says nothing of the others."""
        if crowded := sorted(user for user, passwords in users.items() if len(passwords) > 2):
            # cutting one would lock out the readers holding it
            raise ServerError(f"ElastiCache keeps two passwords per user; {', '.join(crowded)} need more")
        self._wait([], "a change in progress on the user group")
        touched, joining = [], []
        for username, passwords in users.items():
            user_id = elasticache_user_id(self.group, username)
            found = self._user(user_id)
            if found is None and not passwords:
                continue  # nothing to retire
            state = "on" if passwords else "off"
            settings: dict[str, Any] = {"AccessString": f"{state} ~{username}:* +@all -@dangerous"}
            if passwords:
                settings["Passwords"] = passwords
            if found is None:
                self.client.create_user(UserId=user_id, UserName=username, Engine="redis", **settings)
            else:
                self._wait([user_id], f"{username} to finish its last change")
                self.client.modify_user(UserId=user_id, **settings)
            touched.append(user_id)
            if self.group not in ((found or {}).get("UserGroupIds") or []):
                joining.append(user_id)
        if joining:
            self._wait(joining, "the new users")
            self.client.modify_user_group(UserGroupId=self.group, UserIdsToAdd=joining)
        self._wait(touched, "the users' changes")

    def accepts(self, username: str, password: str) -> bool:
        return _redis_login(self.address, username, password, tls=True, check_hostname=not self.tunnelled)


ACCESS_KEY_USER = "default"  # Azure Cache for Redis: the user its access keys are the passwords of
ACCESS_KEY_SLOTS = ("Secondary", "Primary")  # an unused key is taken in this order


@dataclass(frozen=True)
class AzureCacheKeys:
    """Azure Cache for Redis's access keys: it has no users to set, but two keys, each a password
    of its `default` user, and regenerating one leaves the other working. So the secrets that
    hold it share one key, a rotation regenerates the key none of them holds and moves them all
    to it, and the old key is regenerated once they have. The cache accepts exactly the keys
    wanted: a key no secret holds is regenerated, so nobody keeps one."""

    address: tuple[str, int]  # the cache's TLS port (6380)
    client: Any  # an azure.mgmt.redis RedisManagementClient
    resource_group: str
    name: str
    tls: bool = True
    tunnelled: bool = False  # reached through a tunnel: the certificate names the cache, not it

    @property
    def probes(self) -> list[tuple[str, int]]:
        return [self.address]

    def _call(self, action: Callable[[], Any]) -> dict[str, str]:
        from azure.core.exceptions import AzureError

        try:
            found = action()
        except AzureError as error:
            raise ServerError(f"Azure Cache for Redis {self.name}: {first_line(error)}") from None
        return {"Primary": found.primary_key, "Secondary": found.secondary_key}

    def keys(self) -> dict[str, str]:
        """Slot (Primary, Secondary) -> its key."""
        return self._call(lambda: self.client.redis.list_keys(self.resource_group, self.name))

    def regenerate(self, slot: str) -> str:
        from azure.mgmt.redis.models import RedisRegenerateKeyParameters

        parameters = RedisRegenerateKeyParameters(key_type=slot)
        return self._call(
            lambda: self.client.redis.regenerate_key(self.resource_group, self.name, parameters)
        )[slot]

    def unused_key(self, held: set[str]) -> str:
        """A new key in a slot whose key no secret holds (`held`)."""
        keys = self.keys()
        slot = next((slot for slot in ACCESS_KEY_SLOTS if keys[slot] not in held), None)
        if slot is None:
            raise ServerError(f"Azure Cache for Redis {self.name}: its secrets hold both access keys")
        return self.regenerate(slot)

    def converge(self, users: USERS_ONLY) -> None:
        if other := sorted(set(users) - {ACCESS_KEY_USER}):
            raise ServerError(f"Azure Cache for Redis {self.name} has no user {', '.join(other)}")
        wanted = users.get(ACCESS_KEY_USER) or []
        keys = self.keys()
        if not wanted or any(key not in keys.values() for key in wanted):
            raise ServerError(
                f"Azure Cache for Redis {self.name}: a key its secrets hold is not one of its access keys "
                "(regenerated outside secrets.rotate?)"
            )
        for slot, key in keys.items():
            if key not in wanted:
                self.regenerate(slot)

    def accepts(self, username: str, password: str) -> bool:
        return _redis_login(
            self.address, username, password, tls=self.tls, check_hostname=self.tls and not self.tunnelled
        )


@dataclass
class Servers:
    """The servers of one environment by kind (postgres, redis, rabbitmq)."""

    by_kind: dict[str, Server] = field(default_factory=dict)
    timeout: float = 30.0

    def accepted(self, account: Account) -> bool:
        return self.by_kind[account.server].accepts(account.username, account.password)

    def refused(self, account: Account) -> bool:
        """Whether the login is turned down (by every server, where a kind has several)."""
        server = self.by_kind[account.server]
        refuses = getattr(server, "refuses", None)
        return refuses(account.username, account.password) if refuses else not self.accepted(account)

    def _all(self, accounts: list[Account], accepted: bool) -> bool:
        """Whether every one of these logins is accepted (or, with False, refused)."""
        check = self.accepted if accepted else self.refused
        return all(check(account) for account in accounts)

    def unreachable(self, kinds: Iterable[str]) -> list[str]:
        return [f"{kind} at {host}:{port}" for kind in sorted(set(kinds))
                for host, port in self.by_kind[kind].probes if not reachable((host, port))]  # fmt: skip

    def converge(self, wanted: dict[str, USERS_ONLY], refused: Iterable[Account] = ()) -> dict[str, float]:
        """Make each server accept exactly `wanted` for these users (others are left alone),
        and wait until it does and until `refused` (retired credentials) are rejected; the
        seconds spent on each server."""
        spent = {}
        refused = tuple(refused)
        for kind, users in wanted.items():
            if not users:
                continue
            started = time.monotonic()
            self.by_kind[kind].converge(users)
            expected = [
                Account(kind, user, secret) for user, passwords in users.items() for secret in passwords
            ]
            gone = [account for account in refused if account.server == kind]
            wait_until(partial(self._all, expected, True), "the new credentials", self.timeout)
            wait_until(partial(self._all, gone, False), "the retired credentials' rejection", self.timeout)
            spent[kind] = time.monotonic() - started
        return spent
