"""Cassandra connector: cached sessions and translation of cassandra-driver errors.

One ``Cluster``/``Session`` pair exists per distinct connection config for the
life of the process (sessions are thread-safe and expensive to open); call
:func:`close_cassandra_sessions` once at exit. Every driver exception that
escapes a ``with cassandra_errors(address):`` block becomes a
:class:`~kflow.errors.CassandraError` with one clear line.

The driver is imported lazily, inside the functions.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from kflow.connectors.cassandra_event import use_lazy_events
from kflow.connectors.cassandra_tls import CassandraTls, ssl_context
from kflow.connectors.masking import one_line, register_secret
from kflow.errors import CassandraError, KflowError

if TYPE_CHECKING:
    from cassandra.cluster import Cluster, Session

__all__ = [
    "CONNECT_TIMEOUT_S",
    "cassandra_errors",
    "cassandra_session",
    "close_cassandra_sessions",
    "format_endpoints",
]

PROTOCOL_VERSION = 4
"""The native protocol spoken (Cassandra 2.2 and later, ScyllaDB). v5 frames every message
in checksummed segments that the Python driver builds and checks in pure Python: a quarter
to a third of its CPU per single-row lookup (measured with cassandra-driver 3.30),
for no feature kflow's tasks use."""

CONNECT_TIMEOUT_S = 5.0
"""Seconds allowed to open a connection or the control connection."""

REQUEST_TIMEOUT_S = 10.0
"""Default client-side timeout of one request (the driver's default)."""


class _SessionKey(NamedTuple):
    endpoints: tuple[tuple[str, int], ...]
    local_datacenter: str
    username: str | None
    password: str | None
    application_name: str | None
    tls: CassandraTls | None = None


MAX_RECONNECT_DELAY_S = 4.0
"""Longest wait between the driver's attempts to reconnect to a node that went away."""

RECONNECT_AFTER_S = 1.0
"""After a failed connection, callers get the same error without a new attempt for this long."""

_lock = threading.Lock()
_sessions: dict[_SessionKey, tuple[Cluster, Session]] = {}
_failures: dict[_SessionKey, tuple[float, CassandraError]] = {}


def format_endpoints(endpoints: Sequence[tuple[str, int]]) -> str:
    """``[("127.0.0.1", 9042)]`` -> ``"127.0.0.1:9042"`` (IPv6 hosts in brackets)."""
    parts = []
    for host, port in endpoints:
        shown = f"[{host}]" if ":" in host else host
        parts.append(f"{shown}:{port}")
    return ",".join(parts)


def cassandra_session(
    endpoints: Sequence[tuple[str, int]],
    local_datacenter: str,
    username: str | None = None,
    password: str | None = None,
    application_name: str | None = None,
    tls: CassandraTls | None = None,
) -> Session:
    """Return the process-wide session for this connection config, connecting on first use.

    The load-balancing policy is token-aware over ``DCAwareRoundRobinPolicy`` with
    ``local_datacenter``; the protocol is v4 (:data:`PROTOCOL_VERSION`).
    Raises :class:`CassandraError` ("cannot reach Cassandra at host:port: ...") when
    no contact point answers within :data:`CONNECT_TIMEOUT_S`.
    """
    if not endpoints:
        raise CassandraError("no Cassandra endpoint given")
    register_secret(password)
    key = _SessionKey(
        tuple((str(h), int(p)) for h, p in endpoints),
        local_datacenter,
        username,
        password,
        application_name,
        tls,
    )
    with _lock:
        cached = _sessions.get(key)
        if cached is not None and not cached[0].is_shutdown:
            return cached[1]
        failed = _failures.get(key)
        if failed is not None and time.monotonic() - failed[0] < RECONNECT_AFTER_S:
            # Cassandra just refused us: fail fast instead of every caller waiting out a
            # connect timeout of its own (a stampede during an outage).
            raise CassandraError(str(failed[1]), address=failed[1].address)
        try:
            cluster, session = _connect(key)
        except CassandraError as exc:
            _failures[key] = (time.monotonic(), exc)
            raise
        _failures.pop(key, None)
        _sessions[key] = (cluster, session)
        return session


def _connect(key: _SessionKey) -> tuple[Cluster, Session]:
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import (
        DCAwareRoundRobinPolicy,
        ExponentialReconnectionPolicy,
        TokenAwarePolicy,
    )

    use_lazy_events()  # the driver's request futures: no Condition per request
    address = format_endpoints(key.endpoints)
    auth = None
    if key.username is not None or key.password is not None:
        auth = PlainTextAuthProvider(username=key.username or "", password=key.password or "")
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(
            DCAwareRoundRobinPolicy(local_dc=key.local_datacenter)
        ),
        request_timeout=REQUEST_TIMEOUT_S,
    )
    context = ssl_context(key.tls) if key.tls is not None else None  # CassandraError if bad
    with cassandra_errors(address):
        cluster = Cluster(
            ssl_context=context,
            contact_points=list(key.endpoints),
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            auth_provider=auth,
            connect_timeout=CONNECT_TIMEOUT_S,
            control_connection_timeout=CONNECT_TIMEOUT_S,
            application_name=key.application_name or "kflow",
            protocol_version=PROTOCOL_VERSION,
            monitor_reporting_enabled=False,
            # Back within seconds of an outage's end (the driver's default waits up to 10 min).
            reconnection_policy=ExponentialReconnectionPolicy(0.5, MAX_RECONNECT_DELAY_S),
        )
        try:
            session = cluster.connect()
        except BaseException:
            cluster.shutdown()
            raise
    return cluster, session


def close_cassandra_sessions() -> None:
    """Shut down every cached session and cluster (safe to call more than once)."""
    with _lock:
        pairs = list(_sessions.values())
        _sessions.clear()
    for cluster, _session in pairs:
        cluster.shutdown()


@contextmanager
def cassandra_errors(address: str) -> Iterator[None]:
    """Translate cassandra-driver exceptions raised in the block into :class:`CassandraError`.

    ``address`` names the cluster in the message (``host:port[,host:port]``).
    kflow errors and exceptions that do not come from the driver pass through.
    """
    try:
        yield
    except KflowError:
        raise
    except Exception as exc:
        message = describe_cassandra_error(exc, address)
        if message is None:
            raise
        raise CassandraError(message, address=address) from exc


_SERVER_MESSAGE = re.compile(r'message="(.*)"', re.S)
_UNTRUSTED = re.compile(r"CERTIFICATE_VERIFY_FAILED\] (?:certificate verify failed: )?([^(]*)")


def _server_message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    found = _SERVER_MESSAGE.search(str(text))
    return found.group(1) if found else str(text)


def describe_cassandra_error(exc: BaseException, address: str) -> str | None:
    """One masked line describing a driver exception, or ``None`` if ``exc`` is not one."""
    import cassandra
    from cassandra.cluster import NoHostAvailable
    from cassandra.connection import ConnectionException
    from cassandra.protocol import ErrorMessage

    where = f"Cassandra at {address}"
    if isinstance(exc, NoHostAvailable):
        errors = exc.errors or {}
        reasons = sorted({_reason(e) for e in errors.values()}) or [str(exc.args[0])]
        if any(isinstance(e, cassandra.AuthenticationFailed) for e in errors.values()):
            return one_line(f"{where} refused the credentials: {'; '.join(reasons)}")
        untrusted = [_UNTRUSTED.search(r) for r in reasons]
        if any(untrusted):
            why = next(m.group(1) for m in untrusted if m is not None)
            return one_line(f"{where}: the server's TLS certificate is not trusted: {why}")
        if any(isinstance(e, ssl.SSLError) for e in errors.values()):
            return one_line(f"{where}: the TLS handshake failed: {'; '.join(reasons)}")
        return one_line(f"cannot reach Cassandra at {address}: {'; '.join(reasons)}")
    if isinstance(exc, cassandra.AuthenticationFailed):
        return one_line(f"{where} refused the credentials: {_reason(exc)}")
    if isinstance(exc, cassandra.OperationTimedOut):
        return one_line(f"{where} did not answer in time: {_reason(exc)}")
    if isinstance(exc, cassandra.Unavailable):
        return one_line(
            f"{where}: not enough replicas alive for consistency "
            f"{cassandra.ConsistencyLevel.value_to_name.get(exc.consistency, exc.consistency)} "
            f"(required {exc.required_replicas}, alive {exc.alive_replicas})"
        )
    if isinstance(exc, cassandra.Timeout):
        return one_line(f"{where} timed out on the server: {_server_message(exc)}")
    if isinstance(exc, cassandra.AlreadyExists):
        return one_line(f"{where}: {exc}")
    if isinstance(exc, cassandra.Unauthorized):
        return one_line(f"{where} refused the request (unauthorized): {_server_message(exc)}")
    if isinstance(exc, cassandra.InvalidRequest | ErrorMessage):
        return one_line(f"{where} rejected the request: {_server_message(exc)}")
    if isinstance(exc, cassandra.DriverException | ConnectionException):
        return one_line(f"{where}: {type(exc).__name__}: {_reason(exc)}")
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    # Connection errors arrive as tuples like "('Unable to connect...', {...})".
    return text.strip("()'\"")
