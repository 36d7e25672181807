"""RabbitMQ connector: connection settings as Kestra spells them, aiormq errors translated.

Flows give the broker the way Kestra's AMQP plugin does::

    host: 127.0.0.1        # or the deprecated url: amqp://guest:guest@127.0.0.1:5672/
    port: "5672"
    username: guest
    password: guest
    virtualHost: /

:func:`settings_from` reads those properties into :class:`AmqpSettings` (the
password is registered as a secret, so no message shows it). The deprecated
``url`` is read as Kestra reads it: its path is the virtual host, leading slash
included (``/`` or nothing for the default ``/``; ``%2F`` is also ``/``).

Every aiormq (and socket) exception raised in a ``with amqp_errors(address):``
block, and by :func:`connect`, becomes an :class:`~kflow.errors.AmqpError`
with one line, e.g. ``cannot reach RabbitMQ at 127.0.0.1:5672: connection
refused`` or ``RabbitMQ at 127.0.0.1:5672: no queue 'orders' in vhost '/'``.
aiormq is imported lazily, inside the functions.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from kflow.connectors.masking import one_line, register_secret
from kflow.errors import AmqpError, KflowError

if TYPE_CHECKING:
    from aiormq.abc import AbstractConnection

__all__ = [
    "CONNECT_TIMEOUT_S",
    "AmqpSettings",
    "amqp_errors",
    "as_bool",
    "connect",
    "error_line",
    "settings_from",
    "url_problem",
]

DEFAULT_PORT = 5672
DEFAULT_TLS_PORT = 5671
CONNECT_TIMEOUT_S = 10.0
HEARTBEAT_S = 30
"""A broker that stops answering (not one that closes its sockets) is noticed within ~2x."""


@dataclass(frozen=True)
class AmqpSettings:
    """Where and as whom to connect."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None
    virtual_host: str = "/"
    tls: bool = False
    """AMQPS: ``url: amqps://...`` or ``sslCaCertificate`` set."""
    ca_certificate: str | None = None
    """PEM text or a PEM file trusted for the broker's certificate (else the system's CAs)."""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, name: str | None = None) -> str:
        """The URL aiormq reads (guest/guest when no user is given, as RabbitMQ's clients)."""
        user = quote(self.username if self.username is not None else "guest", safe="")
        password = quote(self.password if self.password is not None else "guest", safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?heartbeat={HEARTBEAT_S}"
        if name:
            query += "&name=" + quote(name, safe="")
        vhost = quote(self.virtual_host, safe="")
        scheme = "amqps" if self.tls else "amqp"
        return f"{scheme}://{user}:{password}@{host}:{self.port}/{vhost}{query}"


def parse_url(url: str) -> dict[str, Any]:
    """The connection properties in an ``amqp://`` URL, as Kestra reads them."""
    parts = urlsplit(url.strip())
    out: dict[str, Any] = {"host": parts.hostname or ""}
    if parts.port is not None:
        out["port"] = str(parts.port)
    if parts.username is not None:
        out["username"] = unquote(parts.username)
        out["password"] = unquote(parts.password or "")
    path = parts.path
    if path.upper() == "/%2F":
        path = "/"
    out["virtualHost"] = unquote(path) or "/"
    return out


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be used as an AMQP URL, or None."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("amqp", "amqps"):
        return f"expected an amqp://user:password@host:port/vhost URL, got {url!r}"
    if not parts.hostname:
        return "the URL names no host"
    return None


_PORT = re.compile(r"\s*\d{1,5}\s*")


def settings_from(props: Mapping[str, Any], what: str) -> AmqpSettings:
    """Connection settings of rendered task or trigger properties; ``what`` names the task
    or trigger in errors (``trigger 'watch'``)."""
    url = props.get("url")
    values = dict(props)
    if url:
        if props.get("host"):
            raise AmqpError(
                f"{what}: set either host or the deprecated url, not both", retryable=False
            )
        problem = url_problem(str(url))
        if problem is not None:
            raise AmqpError(f"{what}: url: {problem}", retryable=False)
        values.update(parse_url(str(url)))
    host = str(values.get("host") or "").strip()
    if not host:
        raise AmqpError(f"{what}: missing host", retryable=False)
    ca_certificate = str(values.get("sslCaCertificate") or "").strip() or None
    tls = bool(ca_certificate) or bool(url and str(url).strip().lower().startswith("amqps:"))
    port_text = str(values.get("port") or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT))
    if not _PORT.fullmatch(port_text) or not 0 < int(port_text) < 65536:
        raise AmqpError(
            f"{what}: port must be a TCP port number, got {port_text!r}", retryable=False
        )
    password = values.get("password")
    register_secret(None if password is None else str(password))
    username = values.get("username")
    return AmqpSettings(
        host=host,
        port=int(port_text),
        username=None if username is None else str(username),
        password=None if password is None else str(password),
        virtual_host=str(values.get("virtualHost") or "/"),
        tls=tls,
        ca_certificate=ca_certificate,
    )


def _quiet_driver_logs() -> None:
    # aiormq logs connection failures at ERROR level; without a handler they would reach
    # stderr through logging's last resort, next to kflow's own one-line errors.
    logger = logging.getLogger("aiormq")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


def error_line(exc: BaseException, address: str, *, connected: bool = False) -> tuple[str, bool]:
    """One line saying what went wrong with the broker at ``address``, and whether trying
    again may help; ``connected``: the connection was up (a socket error means it broke)."""
    from aiormq import exceptions as ex

    text = one_line(_reason(exc))
    verify = exc if isinstance(exc, ssl.SSLCertVerificationError) else exc.__cause__
    if isinstance(verify, ssl.SSLCertVerificationError) or "certificate_verify_failed" in text:
        found = getattr(verify, "verify_message", None) or text.split("verify failed:")[-1]
        reason = one_line(str(found).split("(_ssl.c", 1)[0].strip())
        return (
            f"RabbitMQ at {address}: TLS refused: the broker's certificate is not trusted "
            f"({reason}); check sslCaCertificate",
            False,
        )
    if isinstance(exc, ex.ProbableAuthenticationError | ex.AuthenticationError):
        return f"RabbitMQ at {address} refused the login: {text}", False
    if isinstance(exc, ex.InvalidFrameError) and "Connection.Close" in text:
        return (
            f"RabbitMQ at {address} refused the connection (is the virtual host right, "
            "and may this user open it?)",
            False,
        )
    if isinstance(exc, ex.ConnectionNotAllowed):
        return f"RabbitMQ at {address} refused the connection: {text}", False
    if isinstance(exc, ex.PublishError):
        return f"RabbitMQ at {address} returned the message: {text}", True
    if isinstance(exc, ex.DeliveryError):
        return f"RabbitMQ at {address} did not accept the message: {text}", True
    if isinstance(exc, ex.ChannelNotFoundEntity | ex.ChannelAccessRefused):
        return f"RabbitMQ at {address}: {text}", False
    if isinstance(exc, ex.ChannelPreconditionFailed | ex.ChannelLockedResource):
        return f"RabbitMQ at {address}: {text}", False
    if isinstance(exc, TimeoutError):
        return f"RabbitMQ at {address} did not answer in time", True
    if isinstance(exc, ex.ChannelInvalidStateError):
        return f"the connection to RabbitMQ at {address} was closed", True
    if isinstance(exc, ex.ConnectionClosed) and len(exc.args) == 2:
        reason = exc.args[1]  # the broker's Connection.Close: (reply code, reply text)
        return f"RabbitMQ at {address} closed the connection: {one_line(str(reason))}", True
    if isinstance(exc, ConnectionError | OSError):  # aiormq's connection errors are too
        if connected:
            return f"lost the connection to RabbitMQ at {address}: {text}", True
        return f"cannot reach RabbitMQ at {address}: {text}", True
    return f"RabbitMQ at {address}: {type(exc).__name__}: {text}", True


def _reason(exc: BaseException) -> str:
    args = [a for a in getattr(exc, "args", ()) if a is not None]
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return args[1].lower() if args[0] > 0 else args[1]  # (errno, message)
    if args and all(isinstance(a, str) for a in args):
        return "; ".join(args)
    return str(exc) or type(exc).__name__


@contextmanager
def amqp_errors(address: str, prefix: str = "") -> Iterator[None]:
    """Translate driver exceptions raised in the block into :class:`AmqpError`
    (``prefix`` is put before the message: ``"trigger 'watch': "``)."""
    try:
        yield
    except KflowError:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        message, retryable = error_line(exc, address)
        raise AmqpError(prefix + message, address=address, retryable=retryable) from exc


async def connect(settings: AmqpSettings, *, name: str, prefix: str = "") -> AbstractConnection:
    """An open connection (a ``ConnectionError`` naming the address after
    ``CONNECT_TIMEOUT_S``)."""
    import aiormq

    _quiet_driver_logs()
    with amqp_errors(settings.address, prefix):
        context = tls_context(settings.ca_certificate) if settings.tls else None
        return await asyncio.wait_for(
            aiormq.connect(settings.url(name), context=context), CONNECT_TIMEOUT_S
        )


def tls_context(ca_certificate: str | None) -> ssl.SSLContext:
    """A client TLS context (host names checked) trusting ``ca_certificate``: PEM text or a
    PEM file's path; the system's CAs without one."""
    context = ssl.create_default_context()
    if not ca_certificate:
        return context
    try:
        if "-----BEGIN CERTIFICATE-----" in ca_certificate:
            context = ssl.create_default_context(cadata=ca_certificate)
        else:
            context = ssl.create_default_context(cafile=ca_certificate)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise AmqpError(
            f"sslCaCertificate is neither PEM text nor a readable PEM file: {exc}",
            retryable=False,
        ) from None
    return context


def as_bool(value: Any, name: str, what: str) -> bool:
    """A rendered boolean property (``true``/``false`` when it was a template)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    prefix = f"{what}: " if what else ""
    raise AmqpError(f"{prefix}{name} must be true or false, got {value!r}", retryable=False)
