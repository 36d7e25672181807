"""JDBC connector (PostgreSQL with psycopg2, MySQL/MariaDB with pymysql).

- :func:`parse_jdbc_url` reads ``jdbc:postgresql://host[:port][/db][?k=v...]``,
  ``jdbc:mysql://...`` and ``jdbc:mariadb://...`` into a :class:`JdbcUrl`.
- One :class:`ConnectionPool` exists per distinct connection config (URL, user,
  password, TLS settings) for the life of the run, shared by every task and every
  execution; :func:`close_jdbc_pools` closes them all at the end of the run.
- Every driver exception raised in a ``with jdbc_errors(config):`` block becomes a
  :class:`PostgresError` or :class:`MysqlError` with one masked line: a statement the
  server rejects is not retryable, a refused or lost connection is.

The drivers are imported lazily, inside the functions; everything they do blocks, so
callers run it on a worker thread.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from kflow.connectors.masking import one_line, register_secret
from kflow.errors import ConnectorError, KflowError, TaskError

__all__ = [
    "ConnectionConfig",
    "ConnectionPool",
    "JdbcError",
    "JdbcUrl",
    "MysqlError",
    "PostgresError",
    "close_jdbc_pools",
    "jdbc_errors",
    "jdbc_pool",
    "parse_jdbc_url",
]

Dialect = Literal["postgres", "mysql"]

CONNECT_TIMEOUT_S = 10
"""Seconds allowed to open a connection (unless the URL sets ``connectTimeout``)."""

ACQUIRE_TIMEOUT_S = 30.0
"""Longest wait for a free connection of a full pool."""

PROBE_AFTER_IDLE_S = 5.0
"""A connection idle for longer is checked (``SELECT 1`` / ping) before it is handed out."""

DEFAULT_POOL_SIZE = 10
"""Connections per pool at most (Kestra's ``connectionPoolSize`` default)."""

_SCHEMES: dict[str, Dialect] = {
    "jdbc:postgresql": "postgres",
    "jdbc:mysql": "mysql",
    "jdbc:mariadb": "mysql",
}
_DEFAULT_PORTS: dict[Dialect, int] = {"postgres": 5432, "mysql": 3306}


class JdbcError(ConnectorError):
    """A JDBC driver failed (the service is PostgreSQL, MySQL or MariaDB)."""

    service = "JDBC"


class PostgresError(JdbcError):
    service = "PostgreSQL"


class MysqlError(JdbcError):
    service = "MySQL"


@dataclass(frozen=True)
class JdbcUrl:
    """A parsed JDBC URL: which server, which database, which extra parameters."""

    scheme: str
    dialect: Dialect
    hosts: tuple[tuple[str, int], ...]
    database: str | None
    params: tuple[tuple[str, str], ...] = ()

    @property
    def service(self) -> str:
        if self.dialect == "postgres":
            return "PostgreSQL"
        return "MariaDB" if self.scheme == "jdbc:mariadb" else "MySQL"

    @property
    def address(self) -> str:
        return ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)

    @property
    def where(self) -> str:
        """``PostgreSQL at 127.0.0.1:5432/kflow``: how messages name the database."""
        db = f"/{self.database}" if self.database else ""
        return f"{self.service} at {self.address}{db}"

    def param(self, name: str) -> str | None:
        """A URL parameter by name, case-insensitively (JDBC drivers ignore the case)."""
        lowered = name.lower()
        for key, value in self.params:
            if key.lower() == lowered:
                return value
        return None


def parse_jdbc_url(url: str, expected: Dialect | None = None) -> JdbcUrl:
    """Read a JDBC URL; :class:`TaskError` saying what is wrong otherwise.

    ``expected`` refuses the URL of another database (a ``jdbc:mysql:`` URL given to
    the PostgreSQL task).
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    scheme_lower = scheme.lower()
    if not sep or scheme_lower not in _SCHEMES:
        wanted = _expected_schemes(expected)
        raise TaskError(f"url {_shown(text)} is not a JDBC URL: it should start with {wanted}")
    dialect = _SCHEMES[scheme_lower]
    if expected is not None and dialect != expected:
        raise TaskError(
            f"url {_shown(text)} is a {scheme_lower} URL; this task needs "
            f"{_expected_schemes(expected)}"
        )
    authority, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    if "?" in authority:
        authority, _, query = authority.partition("?")
    if "@" in authority:  # jdbc:mysql://user:pass@host is accepted by Connector/J
        credentials, _, authority = authority.rpartition("@")
        user, _, password = credentials.partition(":")
        query = "&".join(
            q for q in (query, f"user={user}" if user else "", f"password={password}") if q
        )
    hosts = []
    for part in authority.split(","):
        host, port = _host_port(part.strip(), _DEFAULT_PORTS[dialect], text)
        hosts.append((host, port))
    if not hosts or not hosts[0][0]:
        raise TaskError(f"url {_shown(text)} names no host")
    params = tuple((k, v) for k, v in parse_qsl(query, keep_blank_values=True))
    database = unquote(path) if path else None
    return JdbcUrl(scheme_lower, dialect, tuple(hosts), database, params)


def _expected_schemes(expected: Dialect | None) -> str:
    if expected == "postgres":
        return "jdbc:postgresql://"
    if expected == "mysql":
        return "jdbc:mysql:// or jdbc:mariadb://"
    return "jdbc:postgresql://, jdbc:mysql:// or jdbc:mariadb://"


def _shown(url: str) -> str:
    """The URL for a message, its password (``password=``, ``user:pass@``) masked."""
    masked = re.sub(r"(?i)(password=)[^&]*", r"\1***", url)
    masked = re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", masked)
    return repr(masked)


def _host_port(part: str, default: int, url: str) -> tuple[str, int]:
    if part.startswith("["):
        host, _, rest = part[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = part.partition(":")
    if not port_text:
        return host, default
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TaskError(f"url {_shown(url)}: {port_text!r} is not a port")
    return host, int(port_text)


@dataclass(frozen=True)
class PostgresTls:
    """Kestra's ``ssl``, ``sslMode``, ``sslRootCert``, ``sslCert``, ``sslKey``,
    ``sslKeyPassword`` (certificates and keys as PEM text, or paths)."""

    ssl: bool = False
    mode: str | None = None
    root_cert: str | None = None
    cert: str | None = None
    key: str | None = None
    key_password: str | None = None


@dataclass(frozen=True)
class ConnectionConfig:
    """Everything that identifies a pool: two tasks with equal configs share one."""

    url: JdbcUrl
    username: str | None = None
    password: str | None = None
    tls: PostgresTls = field(default_factory=PostgresTls)
    pool_size: int = DEFAULT_POOL_SIZE

    @property
    def where(self) -> str:
        return self.url.where

    def error(self, message: str, *, retryable: bool) -> JdbcError:
        kind = PostgresError if self.url.dialect == "postgres" else MysqlError
        return kind(message, address=self.url.address, retryable=retryable)


# --------------------------------------------------------------------------- connecting

_SSL_MODES = {
    "DISABLE": "disable",
    "ALLOW": "allow",
    "PREFER": "prefer",
    "REQUIRE": "require",
    "VERIFY_CA": "verify-ca",
    "VERIFY_FULL": "verify-full",
}


def postgres_connect_args(config: ConnectionConfig) -> dict[str, Any]:
    """The keyword arguments of ``psycopg2.connect`` for ``config`` (pure, but for PEM files)."""
    url = config.url
    args: dict[str, Any] = {
        "host": ",".join(h for h, _ in url.hosts),
        "port": ",".join(str(p) for _, p in url.hosts),
        "dbname": url.database or (config.username or url.param("user") or "postgres"),
        "application_name": url.param("ApplicationName") or "kflow",
        "connect_timeout": _int(url.param("connectTimeout"), CONNECT_TIMEOUT_S),
    }
    user = config.username if config.username is not None else url.param("user")
    password = config.password if config.password is not None else url.param("password")
    if user is not None:
        args["user"] = user
    if password is not None:
        args["password"] = password
    schema = url.param("currentSchema")
    if schema:
        args["options"] = f"-c search_path={schema}"
    tls = config.tls
    mode = tls.mode or url.param("sslmode")
    if mode:
        args["sslmode"] = _SSL_MODES.get(mode.upper().replace("-", "_"), mode.lower())
    elif tls.ssl or (url.param("ssl") or "").lower() == "true":
        args["sslmode"] = "verify-full"  # pgjdbc's meaning of ssl=true
    for arg, value in (
        ("sslrootcert", tls.root_cert or url.param("sslrootcert")),
        ("sslcert", tls.cert or url.param("sslcert")),
        ("sslkey", tls.key or url.param("sslkey")),
    ):
        if value:
            args[arg] = _pem_file(value)
    key_password = tls.key_password or url.param("sslpassword")
    if key_password:
        args["sslpassword"] = key_password
    return args


def mysql_connect_args(config: ConnectionConfig) -> dict[str, Any]:
    """The keyword arguments of ``pymysql.connect`` for ``config`` (pure)."""
    url = config.url
    host, port = url.hosts[0]
    timeout_ms = _int(url.param("connectTimeout"), CONNECT_TIMEOUT_S * 1000)
    args: dict[str, Any] = {
        "host": host,
        "port": port,
        "charset": "utf8mb4",
        "autocommit": True,
        "connect_timeout": max(1, timeout_ms // 1000) if timeout_ms else CONNECT_TIMEOUT_S,
        "program_name": "kflow",
    }
    if url.database:
        args["database"] = url.database
    user = config.username if config.username is not None else url.param("user")
    password = config.password if config.password is not None else url.param("password")
    if user is not None:
        args["user"] = user
    if password is not None:
        args["password"] = password
    return args


def _int(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.strip().isdigit() else default


_pem_lock = threading.Lock()


def _pem_file(value: str) -> str:
    """A path for libpq: ``value`` itself, or a private file holding its PEM text."""
    if "-----BEGIN" not in value:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    path = os.path.join(tempfile.gettempdir(), f"kflow-pem-{os.getuid()}-{digest}.pem")
    with _pem_lock:
        if not os.path.exists(path):
            fd = os.open(path + ".part", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(value if value.endswith("\n") else value + "\n")
            os.replace(path + ".part", path)
    return path


def _open(config: ConnectionConfig) -> Any:
    """A new driver connection (autocommit on), errors translated."""
    with jdbc_errors(config, connecting=True):
        if config.url.dialect == "postgres":
            import psycopg2
            import psycopg2.extensions

            from kflow.plugins.jdbc_values import register_postgres_casts

            connection = psycopg2.connect(**postgres_connect_args(config))
            connection.autocommit = True
            register_postgres_casts(connection)
            return connection
        import pymysql

        return pymysql.connect(**mysql_connect_args(config))


def _probe(config: ConnectionConfig, connection: Any) -> bool:
    """True when an idle connection still answers."""
    try:
        if config.url.dialect == "postgres":
            if connection.closed:
                return False
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        connection.ping(reconnect=False)
        return True
    except Exception:
        return False


# --------------------------------------------------------------------------- pools


class ConnectionPool:
    """At most ``config.pool_size`` connections to one database, reused across executions.

    ``with pool.connection() as conn:`` borrows one; a connection that failed at the
    connection level is closed instead of returned, and the idle ones are dropped with
    it (after an outage they are all dead). Thread-safe; everything blocks.
    """

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self.max_size = max(1, config.pool_size)
        self._idle: list[tuple[Any, float]] = []
        self._count = 0
        self._closed = False
        self._cond = threading.Condition()
        self.opened = 0
        """Connections opened so far (for tests and stats)."""

    def acquire(self, timeout: float = ACQUIRE_TIMEOUT_S) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if self._closed:
                    raise self.config.error(
                        f"{self.config.where}: the pool is closed", retryable=False
                    )
                if self._idle:
                    connection, since = self._idle.pop()
                elif self._count < self.max_size:
                    self._count += 1
                    connection, since = None, 0.0
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise self.config.error(
                            f"{self.config.where}: no free connection after {timeout:.0f} s "
                            f"({self.max_size} in use)",
                            retryable=True,
                        )
                    self._cond.wait(left)
                    continue
            if connection is None:
                try:
                    connection = _open(self.config)
                except BaseException:
                    self._forget()
                    raise
                self.opened += 1
                return connection
            if time.monotonic() - since < PROBE_AFTER_IDLE_S or _probe(self.config, connection):
                return connection
            _close_quietly(connection)
            self._forget()

    def release(self, connection: Any, *, broken: bool = False, lost: bool = False) -> None:
        """Give ``connection`` back; ``broken`` closes it, ``lost`` the idle ones too."""
        healthy = not broken and not lost and _reusable(self.config, connection)
        stale: list[Any] = []
        with self._cond:
            keep = healthy and not self._closed
            if keep:
                self._idle.append((connection, time.monotonic()))
            else:
                self._count -= 1
            if lost:
                stale = [c for c, _ in self._idle]
                self._count -= len(stale)
                self._idle.clear()
            self._cond.notify_all()
        if not keep:
            _close_quietly(connection)
        for old in stale:
            _close_quietly(old)

    def _forget(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        connection = self.acquire()
        broken = lost = False
        try:
            yield connection
        except JdbcError as exc:
            lost = broken = bool(getattr(exc, "connection_lost", False))
            raise
        except BaseException:
            broken = True  # it may hold a half-read result: never hand it out again
            raise
        finally:
            self.release(connection, broken=broken, lost=lost)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle = [c for c, _ in self._idle]
            self._count -= len(idle)
            self._idle.clear()
            self._cond.notify_all()
        for connection in idle:
            _close_quietly(connection)


def _reusable(config: ConnectionConfig, connection: Any) -> bool:
    """Whether a returned connection can serve the next caller (no open transaction)."""
    try:
        if config.url.dialect == "postgres":
            import psycopg2.extensions as ext

            if connection.closed:
                return False
            if connection.info.transaction_status != ext.TRANSACTION_STATUS_IDLE:
                connection.rollback()
            if not connection.autocommit:
                connection.autocommit = True
            return True
        return bool(connection.open)
    except Exception:
        return False


def _close_quietly(connection: Any) -> None:
    with suppress(Exception):
        connection.close()


_lock = threading.Lock()
_pools: dict[ConnectionConfig, ConnectionPool] = {}


def jdbc_pool(config: ConnectionConfig) -> ConnectionPool:
    """The run-wide pool of ``config`` (created on first use; connections open lazily)."""
    register_secret(config.password)
    register_secret(config.url.param("password"))
    register_secret(config.tls.key_password)
    with _lock:
        pool = _pools.get(config)
        if pool is None:
            pool = _pools[config] = ConnectionPool(config)
        return pool


def close_jdbc_pools() -> None:
    """Close every pool and its idle connections (safe to call more than once)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


# --------------------------------------------------------------------------- errors


@contextmanager
def jdbc_errors(config: ConnectionConfig, *, connecting: bool = False) -> Iterator[None]:
    """Translate psycopg2 / pymysql exceptions raised in the block into :class:`JdbcError`.

    kflow errors and exceptions that do not come from a driver pass through.
    """
    try:
        yield
    except KflowError:
        raise
    except Exception as exc:
        described = describe_jdbc_error(exc, config, connecting=connecting)
        if described is None:
            raise
        message, retryable, lost = described
        error = config.error(message, retryable=retryable)
        error.connection_lost = lost  # type: ignore[attr-defined]
        raise error from exc


def describe_jdbc_error(
    exc: BaseException, config: ConnectionConfig, *, connecting: bool = False
) -> tuple[str, bool, bool] | None:
    """``(one masked line, retryable, connection lost)`` for a driver exception, else None."""
    if config.url.dialect == "postgres":
        return _describe_postgres(exc, config, connecting)
    return _describe_mysql(exc, config, connecting)


_PG_RETRYABLE_STATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"}
_AUTH_TEXT = re.compile(
    r"password authentication failed|authentication failed|no pg_hba\.conf entry|"
    r"password is required|role \".*\" does not exist",
    re.I,
)


def _describe_postgres(
    exc: BaseException, config: ConnectionConfig, connecting: bool
) -> tuple[str, bool, bool] | None:
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - the driver is a dependency
        return None
    if not isinstance(exc, psycopg2.Error):
        return None
    url = config.url
    code = getattr(exc, "pgcode", None)
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = one_line(primary or str(exc) or type(exc).__name__)
    text = re.sub(r"^.*?failed: (FATAL: +)?", "", text) if connecting else text
    if code is None and (connecting or isinstance(exc, psycopg2.OperationalError)):
        if _AUTH_TEXT.search(text):
            user = config.username or url.param("user") or ""
            return (
                one_line(
                    f"{url.service} at {url.address} refused the credentials of user "
                    f"{user!r}: {text}"
                ),
                False,
                False,
            )
        if re.search(r"database \".*\" does not exist", text):
            return one_line(f"{url.service} at {url.address}: {text}"), False, False
        if connecting:
            return one_line(f"cannot reach {url.service} at {url.address}: {text}"), True, True
        return one_line(f"lost connection to {url.where}: {text}"), True, True
    if isinstance(exc, psycopg2.InterfaceError):
        return one_line(f"lost connection to {url.where}: {text}"), True, True
    if code is not None:
        retryable = code in _PG_RETRYABLE_STATES or code.startswith("08")
        return (
            one_line(f"{url.where} rejected the SQL: {text} (SQLSTATE {code})"),
            retryable,
            code.startswith("08") or code.startswith("57P"),
        )
    return one_line(f"{url.where}: {type(exc).__name__}: {text}"), False, False


_MYSQL_LOST = {2006, 2013, 2014, 2055}
_MYSQL_UNREACHABLE = {2002, 2003, 2005}
_MYSQL_AUTH = {1044, 1045, 1698}
_MYSQL_RETRYABLE = {1205, 1213, 1040, 1053}


def _describe_mysql(
    exc: BaseException, config: ConnectionConfig, connecting: bool
) -> tuple[str, bool, bool] | None:
    try:
        import pymysql
    except ImportError:  # pragma: no cover - the driver is a dependency
        return None
    if not isinstance(exc, pymysql.err.Error):
        return None
    url = config.url
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    code = args[0] if args and isinstance(args[0], int) else None
    text = one_line(str(args[1]) if len(args) > 1 else str(exc) or type(exc).__name__)
    if code in _MYSQL_UNREACHABLE:
        return one_line(f"cannot reach {url.service} at {url.address}: {text}"), True, True
    if code in _MYSQL_AUTH:
        return (
            one_line(f"{url.service} at {url.address} refused the credentials: {text}"),
            False,
            False,
        )
    if code in _MYSQL_LOST or isinstance(exc, pymysql.err.InterfaceError):
        return one_line(f"lost connection to {url.where}: {text}"), True, True
    if code == 1049:
        return one_line(f"{url.service} at {url.address}: {text}"), False, False
    if code is not None:
        return (
            one_line(f"{url.where} rejected the SQL: {text} (error {code})"),
            code in _MYSQL_RETRYABLE,
            False,
        )
    if connecting:
        return one_line(f"cannot reach {url.service} at {url.address}: {text}"), True, True
    return one_line(f"{url.where}: {type(exc).__name__}: {text}"), False, False


def run_blocking(config: ConnectionConfig, work: Callable[[Any], Any]) -> Any:
    """Borrow a connection of ``config``'s pool, run ``work(connection)``, translate errors."""
    pool = jdbc_pool(config)
    with pool.connection() as connection, jdbc_errors(config):
        return work(connection)
