"""MySQL / MariaDB connections (PyMySQL) and their errors, for the binlog trigger.

Every PyMySQL (and socket) exception raised in a ``with mysql_errors(settings):`` block
becomes a :class:`MysqlError` with one line naming MariaDB/MySQL and ``host:port`` (never
the password): a wrong password, a missing privilege, a server that cannot be reached, a
binlog position the server no longer has. :func:`check_binlog` says, in the same way, why
the server's binlog cannot be read as a change stream (off, not ROW, not a full row image).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kflow.connectors.masking import mask, register_secret
from kflow.errors import ConnectorError

SERVICE = "MariaDB/MySQL"
CONNECT_TIMEOUT_S = 10


class MysqlError(ConnectorError):
    """A MySQL or MariaDB server refused or failed a request."""


@dataclass(frozen=True)
class MysqlSettings:
    host: str
    port: int
    user: str
    password: str | None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def pymysql_kwargs(self) -> dict[str, Any]:
        """What ``pymysql.connect`` and python-mysql-replication take."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password or "",
            "connect_timeout": CONNECT_TIMEOUT_S,
            "charset": "utf8mb4",
        }


def settings_from(props: Mapping[str, Any], what: str) -> MysqlSettings:
    """The connection of a trigger's rendered properties (hostname, port, user, password)."""
    host = str(props.get("hostname") or "").strip()
    if not host:
        raise MysqlError(f"{what}: hostname is not set", retryable=False)
    port_text = str(props.get("port") or "3306").strip()
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MysqlError(f"{what}: port {port_text!r} is not a port number", retryable=False)
    password = props.get("password")
    password = None if password is None else str(password)
    register_secret(password)
    return MysqlSettings(host, int(port_text), str(props.get("username") or "root"), password)


ACCESS_DENIED = 1045
UNKNOWN_DATABASE = 1049
NO_PRIVILEGE = (1227, 1142, 1044, 1143)
BINLOG_GONE = 1236
CANNOT_CONNECT = (2002, 2003, 2005, 2006, 2013, 2055)
SERVER_SHUTDOWN = (1053, 1927, 4031)


def error_line(exc: BaseException, settings: MysqlSettings) -> tuple[str, bool]:
    """One line for ``exc`` and whether trying again may help."""
    where = f"{SERVICE} at {settings.address}"
    code = _code(exc)
    reason = _message(exc)
    if code == ACCESS_DENIED:
        return (
            f"{where} refused user {settings.user!r}: wrong user name or password "
            f"(or the user may not connect from this host): {reason}",
            False,
        )
    if code in NO_PRIVILEGE:
        return (
            f"{where}: user {settings.user!r} lacks a privilege the binlog trigger needs "
            f"(REPLICATION SLAVE, REPLICATION CLIENT / BINLOG MONITOR, SELECT): {reason}",
            False,
        )
    if code == UNKNOWN_DATABASE:
        return f"{where}: {reason}", False
    if code == BINLOG_GONE:
        return (
            f"{where} no longer has the binlog position kflow stored (purged?): {reason}; "
            "use snapshotMode WHEN_NEEDED to snapshot again, or delete the trigger's state",
            False,
        )
    if code in CANNOT_CONNECT or code in SERVER_SHUTDOWN or isinstance(exc, OSError):
        return f"cannot reach {where}: {reason}", True
    return f"{where}: {reason}", code is None or code >= 2000


@contextlib.contextmanager
def mysql_errors(settings: MysqlSettings, prefix: str = "") -> Iterator[None]:
    """Translate driver exceptions raised in the block into :class:`MysqlError`."""
    import pymysql

    try:
        yield
    except MysqlError:
        raise
    except (pymysql.MySQLError, OSError, EOFError) as exc:
        line, retryable = error_line(exc, settings)
        raise MysqlError(
            mask(prefix + line), address=settings.address, retryable=retryable
        ) from exc


def connect(settings: MysqlSettings, prefix: str = "", **kwargs: Any) -> Any:
    """A PyMySQL connection (autocommit, dict rows unless ``cursorclass`` says otherwise)."""
    import pymysql
    import pymysql.cursors

    with mysql_errors(settings, prefix):
        return pymysql.connect(
            **settings.pymysql_kwargs(),
            autocommit=True,
            cursorclass=kwargs.pop("cursorclass", pymysql.cursors.DictCursor),
            **kwargs,
        )


def check_binlog(conn: Any, settings: MysqlSettings, prefix: str = "") -> dict[str, Any]:
    """The server's binlog settings, or a :class:`MysqlError` saying why it cannot be read
    as a row change stream (off, not ROW, not FULL images, or the privileges to read it)."""
    where = f"{SERVICE} at {settings.address}"
    with mysql_errors(settings, prefix), conn.cursor() as cur:
        cur.execute(
            "SELECT @@log_bin AS log_bin, @@GLOBAL.binlog_format AS binlog_format, "
            "@@GLOBAL.binlog_row_image AS row_image, @@version AS version, "
            "@@server_id AS server_id"
        )
        info = dict(cur.fetchone())
    if not int(info["log_bin"]):
        raise MysqlError(
            mask(f"{prefix}{where} has no binary log (start it with --log-bin)"),
            address=settings.address,
            retryable=False,
        )
    if str(info["binlog_format"]).upper() != "ROW":
        raise MysqlError(
            mask(
                f"{prefix}{where} logs binlog_format={info['binlog_format']}; change data "
                "capture needs binlog_format=ROW"
            ),
            address=settings.address,
            retryable=False,
        )
    if str(info["row_image"]).upper() != "FULL":
        raise MysqlError(
            mask(
                f"{prefix}{where} logs binlog_row_image={info['row_image']}; change data "
                "capture needs binlog_row_image=FULL (whole rows before and after a change)"
            ),
            address=settings.address,
            retryable=False,
        )
    with mysql_errors(settings, prefix), conn.cursor() as cur:
        cur.execute("SHOW GRANTS")
        grants = " ".join(str(next(iter(r.values()))) for r in cur.fetchall()).upper()
    if "ALL PRIVILEGES ON *.*" not in grants and not any(
        name in grants for name in ("REPLICATION SLAVE", "REPLICATION REPLICA")
    ):
        raise MysqlError(
            mask(
                f"{prefix}{where}: user {settings.user!r} has no REPLICATION SLAVE "
                "(REPLICATION REPLICA) privilege, which reading the binlog needs: "
                f"GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO {settings.user}"
            ),
            address=settings.address,
            retryable=False,
        )
    info["mariadb"] = "mariadb" in str(info["version"]).lower()
    return info


def _code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _message(exc: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        return str(args[1])
    return str(exc) or type(exc).__name__
