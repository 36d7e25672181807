"""NATS connector: connection settings as Kestra spells them, nats-py errors translated.

Flows give the server the way Kestra's NATS plugin does::

    url: nats://127.0.0.1:4222        # or host:port, a comma list, nats://token@host:port
    username: kflow                   # username and password go together
    password: "{{ secret('NATS_PASSWORD') }}"
    token: ...                        # or a token
    creds: |                          # or the content of a .creds file (JWT and NKey seed)
      -----BEGIN NATS USER JWT-----
      ...

:func:`settings_from` reads those properties into :class:`NatsSettings` (passwords,
tokens and the creds text are registered as secrets, so no message shows them).
Every nats-py (and socket) exception raised in a ``with nats_errors(address):`` block,
and by :func:`connect`, becomes a :class:`NatsError` with one line naming NATS and
the address, e.g. ``cannot reach NATS at 127.0.0.1:4222: connection refused``.
nats-py is imported lazily, inside the functions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from kflow.connectors.masking import one_line, register_secret
from kflow.errors import ConnectorError, KflowError

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = [
    "CONNECT_TIMEOUT_S",
    "NatsError",
    "NatsSettings",
    "connect",
    "error_line",
    "nats_errors",
    "settings_from",
    "url_problem",
]

DEFAULT_PORT = 4222
SCHEMES = ("nats", "tls", "ws", "wss")
CONNECT_TIMEOUT_S = 10.0
RECONNECT_WAIT_S = 1.0
FIRST_CONNECT_ATTEMPTS = 2
"""Tries per server before ``start`` gives up (then: reconnect for ever)."""


class NatsError(ConnectorError):
    """NATS (core or JetStream) failed; the message names the server address."""

    service = "NATS"


@dataclass(frozen=True)
class NatsSettings:
    """Where and as whom to connect. ``servers`` are URLs as nats-py reads them (they may
    hold credentials); :attr:`address` never does."""

    servers: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    creds: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """``host:port[,host:port...]``, without credentials."""
        return ",".join(_hostport(url) for url in self.servers)


def _hostport(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port or DEFAULT_PORT}"


def server_urls(text: str) -> list[str]:
    """The servers of a ``url`` property: a comma list, ``nats://`` added where missing."""
    out = []
    for item in str(text).split(","):
        item = item.strip()
        if item:
            out.append(item if "://" in item else f"nats://{item}")
    return out


def url_problem(text: str) -> str | None:
    """Why ``text`` cannot be used as a ``url`` (``[nats://]host:port``, comma list), or None."""
    urls = server_urls(text)
    if not urls:
        return "url names no server; expected nats://host:4222"
    for url in urls:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            return f"{_masked_url(url)} is not a valid URL: {exc}"
        if parts.scheme.lower() not in SCHEMES:
            return (
                f"url scheme {parts.scheme}:// is not supported; use nats://, tls://, ws:// "
                "or wss://"
            )
        if not parts.hostname:
            return f"{_masked_url(url)} names no host"
    return None


def _masked_url(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return repr(url)
    return repr(f"{parts.scheme}://***@{parts.netloc.rsplit('@', 1)[1]}{parts.path}")


def _register_url_secrets(url: str) -> None:
    parts = urlsplit(url)
    if parts.password:
        register_secret(unquote(parts.password))
    elif parts.username and "@" in parts.netloc:  # nats://TOKEN@host
        register_secret(unquote(parts.username))


def settings_from(props: Mapping[str, Any], what: str) -> NatsSettings:
    """Connection settings of rendered task or trigger properties; ``what`` names the task or
    trigger in errors (``trigger 'watch'``)."""

    def text(name: str) -> str | None:
        value = props.get(name)
        if value is None or value == "":
            return None
        given = str(value)
        if name in ("password", "token", "creds"):
            register_secret(given)
        if name == "creds":  # the JWT and the NKey seed lines of the file, on their own too
            for line in given.splitlines():
                line = line.strip()
                if len(line) >= 20 and " " not in line and not line.startswith("---"):
                    register_secret(line)
        return given

    url = text("url")
    username, password, token, creds = (
        text("username"),
        text("password"),
        text("token"),
        text("creds"),
    )
    if url is None:
        raise NatsError(f"{what}: missing url", retryable=False)
    for server in server_urls(url):
        _register_url_secrets(server)
    problem = url_problem(url)
    if problem is not None:
        raise NatsError(f"{what}: {problem}", retryable=False)
    if (username is None) != (password is None):
        missing = "password" if password is None else "username"
        raise NatsError(
            f"{what}: username and password go together; {missing} is missing", retryable=False
        )
    return NatsSettings(tuple(server_urls(url)), username, password, token, creds)


def error_line(exc: BaseException, address: str, *, connected: bool = False) -> tuple[str, bool]:
    """One line saying what went wrong with NATS at ``address``, and whether trying again may
    help; ``connected``: the connection was up (a socket error means it broke)."""
    from nats import errors as ne
    from nats.js import errors as je

    text = one_line(_reason(exc))
    if isinstance(exc, ne.AuthorizationError):
        return f"NATS at {address} refused the login (authorization violation)", False
    if isinstance(exc, ne.InvalidUserCredentialsError):
        return f"NATS at {address}: the creds are not a valid credentials file", False
    if isinstance(exc, ne.SecureConnRequiredError | ne.SecureConnWantedError):
        return f"NATS at {address}: {text} (use a tls:// url)", False
    if isinstance(exc, ne.NoRespondersError):
        return (
            f"NATS at {address}: JetStream is not enabled or not available to this account "
            "(start nats-server with -js)",
            False,
        )
    if isinstance(exc, je.ServiceUnavailableError):
        return f"NATS at {address}: JetStream is not available: {_api(exc)}", True
    if isinstance(exc, je.APIError):
        return f"NATS at {address}: JetStream refused: {_api(exc)}", _api_retryable(exc)
    if isinstance(exc, ne.MaxPayloadError):
        return f"NATS at {address}: the message is larger than the server's max_payload", False
    if isinstance(exc, ne.BadSubjectError):
        return f"NATS at {address}: invalid subject", False
    if isinstance(exc, TimeoutError):  # nats.errors.TimeoutError is one
        return f"NATS at {address} did not answer in time", True
    if isinstance(exc, ne.ConnectionClosedError | ne.ConnectionDrainingError):
        return f"the connection to NATS at {address} is closed", True
    if isinstance(exc, ne.ConnectionReconnectingError | ne.StaleConnectionError):
        return f"lost the connection to NATS at {address}; reconnecting", True
    if isinstance(exc, ne.NoServersError):
        return f"cannot reach NATS at {address}", True
    if isinstance(exc, OSError):
        if connected:
            return f"lost the connection to NATS at {address}: {text}", True
        return f"cannot reach NATS at {address}: {text}", True
    return f"NATS at {address}: {type(exc).__name__}: {text}", True


def _api(exc: Any) -> str:
    description = getattr(exc, "description", None) or str(exc)
    code = getattr(exc, "err_code", None)
    return one_line(f"{description} (error {code})" if code else str(description))


def _api_retryable(exc: Any) -> bool:
    code = getattr(exc, "code", None)
    return not (isinstance(code, int) and 400 <= code < 500)


def _reason(exc: BaseException) -> str:
    args = [a for a in getattr(exc, "args", ()) if a is not None]
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return args[1].lower()  # (errno, message)
    if args and all(isinstance(a, str) for a in args):
        return "; ".join(args)
    return str(exc) or type(exc).__name__


@contextmanager
def nats_errors(address: str, prefix: str = "", *, connected: bool = True) -> Iterator[None]:
    """Translate driver exceptions raised in the block into :class:`NatsError` (``prefix`` is
    put before the message: ``"trigger 'watch': "``)."""
    try:
        yield
    except KflowError:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        message, retryable = error_line(exc, address, connected=connected)
        raise NatsError(prefix + message, address=address, retryable=retryable) from exc


Callback = Callable[[], Awaitable[None]]


async def connect(
    settings: NatsSettings,
    *,
    name: str,
    prefix: str = "",
    on_disconnected: Callback | None = None,
    on_reconnected: Callback | None = None,
    on_error: Callable[[BaseException], Awaitable[None]] | None = None,
) -> Client:
    """An open connection that reconnects by itself for ever once it is up; a
    :class:`NatsError` naming the address when no server accepts it at first."""
    import nats

    _quiet_driver_logs()
    errors: list[BaseException] = []

    async def error_cb(exc: Exception) -> None:
        errors.append(exc)
        if on_error is not None and client.is_connected:
            await on_error(exc)

    async def noop() -> None:
        return None

    options: dict[str, Any] = {
        "servers": list(settings.servers),
        "name": name,
        "connect_timeout": 5,
        "allow_reconnect": True,
        "max_reconnect_attempts": FIRST_CONNECT_ATTEMPTS,
        "reconnect_time_wait": RECONNECT_WAIT_S,
        "error_cb": error_cb,
        "disconnected_cb": on_disconnected or noop,
        "reconnected_cb": on_reconnected or noop,
    }
    if settings.username is not None:
        options["user"], options["password"] = settings.username, settings.password
    if settings.token is not None:
        options["token"] = settings.token
    if settings.creds is not None:
        from nats.aio.client import RawCredentials

        options["user_credentials"] = RawCredentials(settings.creds)
    client = nats.NATS()
    try:
        await asyncio.wait_for(client.connect(**options), CONNECT_TIMEOUT_S)
    except Exception as exc:
        with _suppressed():
            await client.close()
        cause = _first_real(errors) or exc
        message, retryable = error_line(cause, settings.address)
        raise NatsError(prefix + message, address=settings.address, retryable=retryable) from exc
    client.options["max_reconnect_attempts"] = -1  # from now on: reconnect for ever
    return client


def _first_real(errors: list[BaseException]) -> BaseException | None:
    """The most telling error of a failed connect: a refusal of the login beats a socket error."""
    from nats import errors as ne

    for exc in errors:
        if isinstance(exc, ne.AuthorizationError | ne.InvalidUserCredentialsError):
            return exc
    return errors[-1] if errors else None


@contextmanager
def _suppressed() -> Iterator[None]:
    try:
        yield
    except Exception:  # closing what never opened: nothing worth reporting
        return


def _quiet_driver_logs() -> None:
    # nats-py logs reconnect problems at ERROR level; without a handler they would reach
    # stderr through logging's last resort, next to kflow's own one-line messages.
    logger = logging.getLogger("nats")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
