"""Redis connector: the ``url`` of Kestra's Redis plugin read into settings, redis-py errors
translated.

Flows name the server the way Kestra's Redis plugin does, with one URL::

    url: redis://:password@127.0.0.1:6379/0     # rediss:// for TLS; user name optional

:func:`settings_from` reads it into :class:`RedisSettings` (the password is registered as a
secret, so no message shows it). :func:`client` opens a ``redis.asyncio`` client with the
driver's own retries turned off: the trigger reconnects with its own back-off and says so.

Every redis-py (and socket) exception raised in a ``with redis_errors(address):`` block
becomes a :class:`RedisError` with one line naming Redis and ``host:port`` (never the URL,
never the password), e.g. ``cannot reach Redis at 127.0.0.1:6379: connection refused``.
redis-py is imported lazily, inside the functions.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from kflow.connectors.masking import one_line, register_secret
from kflow.errors import ConnectorError, KflowError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "RedisError",
    "RedisSettings",
    "client",
    "error_line",
    "redis_errors",
    "settings_from",
    "url_problem",
]

DEFAULT_PORT = 6379
CONNECT_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 10.0
"""A server that stops answering (rather than closing its sockets) is noticed this late."""


class RedisError(ConnectorError):
    """Redis failed (raised at this boundary only)."""

    service = "Redis"


@dataclass(frozen=True)
class RedisSettings:
    """Where and as whom to connect (what a ``redis://`` URL says)."""

    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def describe(self) -> str:
        """``127.0.0.1:6379/0`` (``rediss://`` shown for TLS): no credentials."""
        return ("rediss://" if self.tls else "") + f"{self.address}/{self.db}"


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be used as a Redis URL, or None."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("redis", "rediss"):
        return f"expected a redis://[:password@]host:port/db URL, got scheme {parts.scheme!r}"
    if not parts.hostname:
        return "the URL names no host"
    db = parts.path.strip("/")
    if db and not db.isdigit():
        return f"the database must be a number (redis://host:port/0), got {db!r}"
    return None


def parse_url(url: str) -> RedisSettings:
    """The settings of a valid URL (check it with :func:`url_problem` first)."""
    parts = urlsplit(url.strip())
    db = parts.path.strip("/")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return RedisSettings(
        host=parts.hostname or "",
        port=parts.port or DEFAULT_PORT,
        db=int(db) if db else 0,
        username=username,
        password=password or None,
        tls=parts.scheme == "rediss",
    )


def settings_from(props: Mapping[str, Any], what: str) -> RedisSettings:
    """The settings of rendered task or trigger properties (``url``); ``what`` names the
    task or trigger in errors (``trigger 'watch'``)."""
    url = str(props.get("url") or "").strip()
    if not url:
        raise RedisError(f"{what}: missing url", retryable=False)
    parts = urlsplit(url)
    with suppress(ValueError):
        register_secret(unquote(parts.password) if parts.password else None)
    problem = url_problem(url)
    if problem is not None:
        raise RedisError(f"{what}: url: {problem}", retryable=False)
    return parse_url(url)


def client(settings: RedisSettings, *, name: str = "kflow") -> Redis:
    """A ``redis.asyncio`` client (a pool: a blocking command holds one connection of it),
    bytes in and out, no retries of its own."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        username=settings.username,
        password=settings.password,
        ssl=settings.tls,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
        client_name=re.sub(r"[^A-Za-z0-9._:-]+", "-", name),
    )


_CONNECTING = re.compile(r"Error (-?\d+) connecting to \S+?\.? (.*)$", re.S)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    found = _CONNECTING.search(text)
    if found:
        errno = int(found.group(1))
        text = os.strerror(errno) if errno > 0 else found.group(2).rstrip(".")
        return text[:1].lower() + text[1:]
    return text.rstrip(".")


def error_line(exc: BaseException, address: str, *, connected: bool = False) -> tuple[str, bool]:
    """One line saying what went wrong with Redis at ``address``, and whether trying again
    may help; ``connected``: the connection was up (a socket error means it broke)."""
    from redis import exceptions as ex

    text = one_line(_reason(exc))
    if isinstance(exc, ex.AuthenticationError | ex.AuthenticationWrongNumberOfArgsError):
        return f"Redis at {address} refused the login: {text}", False
    if isinstance(exc, ex.NoPermissionError):
        return f"Redis at {address} refused the command: {text}", False
    if isinstance(exc, ex.BusyLoadingError):
        return f"Redis at {address} is loading its data set", True
    if isinstance(exc, ex.TimeoutError | TimeoutError):
        return f"Redis at {address} did not answer in time", True
    if isinstance(exc, ex.ResponseError) and text.startswith(("NOAUTH", "WRONGPASS")):
        return f"Redis at {address} refused the login: {text}", False
    if isinstance(exc, ex.ReadOnlyError):
        return f"Redis at {address} is a read-only replica: {text}", True
    if isinstance(exc, ex.ResponseError):
        return f"Redis at {address}: {text}", False
    if isinstance(exc, ex.ConnectionError | ConnectionError | OSError):
        if connected:
            return f"lost the connection to Redis at {address}: {text}", True
        return f"cannot reach Redis at {address}: {text}", True
    return f"Redis at {address}: {type(exc).__name__}: {text}", True


@contextmanager
def redis_errors(address: str, prefix: str = "", *, connected: bool = False) -> Iterator[None]:
    """Translate driver exceptions raised in the block into :class:`RedisError`
    (``prefix`` is put before the message: ``"trigger 'watch': "``)."""
    try:
        yield
    except KflowError:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        message, retryable = error_line(exc, address, connected=connected)
        raise RedisError(prefix + message, address=address, retryable=retryable) from exc
