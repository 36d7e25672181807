"""PostgreSQL connector: connection settings as Kestra's Debezium trigger spells them,
psycopg2 errors translated at this boundary.

:func:`settings_from` reads ``hostname``, ``port``, ``username``, ``password``,
``database`` and the ``ssl*`` properties into :class:`PostgresSettings` (the password is
registered as a secret). :func:`connect` opens a plain connection (catalog queries, the
snapshot) or, with ``replication=True``, a logical replication connection. Every psycopg2 or
socket error raised inside ``with postgres_errors(settings):`` becomes a
:class:`PostgresError` of one line naming PostgreSQL and ``host:port``, e.g.
``PostgreSQL at 127.0.0.1:5432: wrong user name or password for user "kflow"``. psycopg2 is
imported lazily.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kflow.connectors.masking import one_line, register_secret
from kflow.errors import ConnectorError, KflowError
from kflow.plugins.postgres_values import SESSION_SETTINGS

__all__ = [
    "CONNECT_TIMEOUT_S",
    "PostgresError",
    "PostgresSettings",
    "connect",
    "error_line",
    "postgres_errors",
    "settings_from",
]

CONNECT_TIMEOUT_S = 10
DEFAULT_PORT = 5432
APPLICATION_NAME = "kflow"


class PostgresError(ConnectorError):
    """PostgreSQL refused or lost a connection, or a replication command failed."""

    service = "PostgreSQL"


@dataclass(frozen=True)
class PostgresSettings:
    """Where, as whom and how securely to connect."""

    host: str
    port: int = DEFAULT_PORT
    user: str | None = None
    password: str | None = None
    database: str = "postgres"
    ssl: dict[str, str] = field(default_factory=dict)  # libpq sslmode / sslrootcert / ...

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def connect_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "application_name": APPLICATION_NAME,
            "options": SESSION_SETTINGS,
        }
        if self.user is not None:
            args["user"] = self.user
        if self.password is not None:
            args["password"] = self.password
        args.update(self.ssl)
        return args


SSL_MODES = {"DISABLE": "disable", "REQUIRE": "require", "VERIFY_CA": "verify-ca"}
SSL_MODES["VERIFY_FULL"] = "verify-full"


def settings_from(props: Mapping[str, Any], what: str) -> PostgresSettings:
    """The connection of a trigger's rendered properties (``what`` names it in errors)."""
    host = str(props.get("hostname") or "").strip()
    if not host:
        raise PostgresError(f"{what}: missing hostname", retryable=False)
    port_text = str(props.get("port") or DEFAULT_PORT).strip()
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise PostgresError(f"{what}: {port_text!r} is not a port number", retryable=False)
    database = str(props.get("database") or "").strip()
    if not database:
        raise PostgresError(f"{what}: missing database", retryable=False)
    password = props.get("password")
    register_secret(None if password is None else str(password))
    key_password = props.get("sslKeyPassword")
    register_secret(None if key_password is None else str(key_password))
    ssl: dict[str, str] = {}
    mode = props.get("sslMode")
    if mode:
        ssl["sslmode"] = SSL_MODES.get(str(mode).upper(), str(mode).lower())
    for prop, arg in (("sslRootCert", "sslrootcert"), ("sslCert", "sslcert"), ("sslKey", "sslkey")):
        text = props.get(prop)
        if text:
            ssl[arg] = _pem_file(str(text), arg)
    if key_password:
        ssl["sslpassword"] = str(key_password)
    user = props.get("username")
    return PostgresSettings(
        host=host,
        port=int(port_text),
        user=None if user is None else str(user),
        password=None if password is None else str(password),
        database=database,
        ssl=ssl,
    )


def _pem_file(text: str, name: str) -> str:
    """libpq reads certificates and keys from files: a PEM given inline goes to a private
    temporary file (a path is used as it is)."""
    if "-----BEGIN" not in text:
        return text
    fd, path = tempfile.mkstemp(prefix=f"kflow-{name}-", suffix=".pem")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)
    return path


def connect(settings: PostgresSettings, *, replication: bool = False, prefix: str = "") -> Any:
    """A psycopg2 connection (autocommit); ``replication``: a logical replication one.
    ``prefix`` starts the error line (``trigger 'x': ``)."""
    import psycopg2
    import psycopg2.extras

    with postgres_errors(settings, prefix):
        if replication:
            return psycopg2.connect(
                connection_factory=psycopg2.extras.LogicalReplicationConnection,
                **settings.connect_args(),
            )
        conn = psycopg2.connect(**settings.connect_args())
        conn.autocommit = True
        return conn


@contextlib.contextmanager
def postgres_errors(settings: PostgresSettings, prefix: str = "") -> Iterator[None]:
    """Translate psycopg2 and socket errors into :class:`PostgresError`."""
    try:
        yield
    except KflowError:
        raise
    except Exception as exc:
        import psycopg2

        if not isinstance(exc, psycopg2.Error | OSError):
            raise
        line, retryable = error_line(exc, settings)
        raise PostgresError(prefix + line, address=settings.address, retryable=retryable) from exc


_RULES: tuple[tuple[str, str, bool], ...] = (
    (
        r"password authentication failed for user \"([^\"]*)\"",
        'wrong user name or password for user "{0}"',
        False,
    ),
    (r"no password supplied", "the server wants a password and none was given", False),
    (r"role \"([^\"]*)\" does not exist", 'no role "{0}"', False),
    (r"database \"([^\"]*)\" does not exist", 'no database "{0}"', False),
    (
        r"must be superuser or replication role|permission denied to start WAL sender"
        r"|must have the REPLICATION attribute|must be superuser or have REPLICATION",
        "the user lacks the REPLICATION privilege (ALTER ROLE ... WITH REPLICATION)",
        False,
    ),
    (
        r"logical decoding requires wal_level|wal_level >= logical|requires \"wal_level\"",
        "wal_level is not logical (set wal_level = logical in postgresql.conf and restart "
        "PostgreSQL)",
        False,
    ),
    (r"no pg_hba.conf entry for .*", "no pg_hba.conf entry lets this client in", False),
    (
        r"publication \"([^\"]*)\" does not exist",
        'no publication "{0}" in the database',
        False,
    ),
    (r"replication slot \"([^\"]*)\" does not exist", 'no replication slot "{0}"', False),
    (
        r"replication slot \"([^\"]*)\" is active for PID (\d+)",
        'the replication slot "{0}" is in use by another connection (PID {1}): is another '
        "kflow reading it?",
        True,
    ),
    (
        r"all replication slots are in use",
        "all replication slots are in use (max_replication_slots)",
        False,
    ),
    (r"Connection refused", "connection refused", True),
    (r"timeout expired|timed out", "the connection timed out", True),
    (
        r"terminating connection due to administrator command|server closed the connection"
        r"|the database system is (shutting down|starting up|in recovery mode)"
        r"|connection already closed|SSL SYSCALL error|EOF detected|could not receive data",
        "the server closed the connection",
        True,
    ),
    (r"no COPY in progress", "the server ended the replication stream", True),
    (r"could not translate host name \"([^\"]*)\"", 'unknown host "{0}"', True),
)


def error_line(exc: BaseException, settings: PostgresSettings) -> tuple[str, bool]:
    """One line for a psycopg2 error, and whether trying again may help."""
    text = one_line(str(exc) or type(exc).__name__)
    for pattern, template, retryable in _RULES:
        match = re.search(pattern, text, re.IGNORECASE)
        if match is not None:
            reason = template.format(*match.groups())
            verb = "cannot reach" if retryable and "refused" in reason else None
            if verb:
                return f"cannot reach PostgreSQL at {settings.address}: {reason}", True
            return f"PostgreSQL at {settings.address}: {reason}", retryable
    text = re.sub(r"^(FATAL|ERROR):\s*", "", text)
    return f"PostgreSQL at {settings.address}: {text}", _retryable(exc)


def _retryable(exc: BaseException) -> bool:
    import psycopg2

    return isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError | OSError)
