"""MongoDB connector: cached clients, masked URIs, Extended JSON, pymongo errors translated.

One ``MongoClient`` exists per distinct URI for the life of the process (it is
thread-safe and holds the connection pool); call :func:`close_mongo_clients`
once at exit. Every pymongo exception raised in a ``with mongo_errors(address):``
block becomes a :class:`~kflow.errors.MongoError` whose message never shows
the URI's password. pymongo is imported lazily, inside the functions.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from kflow.connectors.masking import MASK, one_line, register_secret
from kflow.errors import DataError, KflowError, MongoError

if TYPE_CHECKING:
    from pymongo import MongoClient

__all__ = [
    "SERVER_SELECTION_TIMEOUT_MS",
    "close_mongo_clients",
    "mask_uri",
    "mongo_client",
    "mongo_errors",
    "parse_extended_json",
]

SERVER_SELECTION_TIMEOUT_MS = 5_000
"""How long an operation waits for a reachable server (pymongo: 30 s), unless the URI says."""

_lock = threading.Lock()
_clients: dict[str, MongoClient[Any]] = {}

# scheme://user:password@hosts... ; the password runs to the last '@' before the hosts.
_CREDENTIALS = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/]*):(?P<password>.*)@")


def mask_uri(uri: str) -> str:
    """``mongodb://user:secret@host`` -> ``mongodb://user:***@host`` (other URIs unchanged)."""
    found = _CREDENTIALS.match(uri)
    if found is None or "/" in found.group("password"):
        return uri
    return f"{found.group('scheme')}{found.group('user')}:{MASK}@{uri[found.end() :]}"


def _register_uri_password(uri: str) -> None:
    found = _CREDENTIALS.match(uri)
    if found is not None and found.group("password") and "/" not in found.group("password"):
        register_secret(found.group("password"))
        register_secret(unquote(found.group("password")))


def mongo_client(uri: str) -> MongoClient[Any]:
    """Return the process-wide client for ``uri``, creating it on first use.

    pymongo connects in the background: an unreachable server is reported by
    the first operation (inside :func:`mongo_errors`) after
    :data:`SERVER_SELECTION_TIMEOUT_MS` unless the URI sets
    ``serverSelectionTimeoutMS``. A malformed URI raises :class:`MongoError` now.
    """
    _register_uri_password(uri)
    with _lock:
        client = _clients.get(uri)
        if client is not None:
            return client
        from pymongo import MongoClient

        options: dict[str, Any] = {"appname": "kflow"}
        if "serverselectiontimeoutms" not in uri.lower():
            options["serverSelectionTimeoutMS"] = SERVER_SELECTION_TIMEOUT_MS
        with mongo_errors(mask_uri(uri)):
            try:
                client = MongoClient(uri, **options)
            except (ValueError, TypeError) as exc:  # pymongo's URI parser raises these too
                raise MongoError(
                    one_line(f"invalid MongoDB connection {mask_uri(uri)}: {exc}"),
                    address=mask_uri(uri),
                ) from exc
        _clients[uri] = client
        return client


def close_mongo_clients() -> None:
    """Close every cached client (safe to call more than once)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


@contextmanager
def mongo_errors(address: str) -> Iterator[None]:
    """Translate pymongo exceptions raised in the block into :class:`MongoError`.

    ``address`` (a URI or ``host:port``) names the server; its password is masked.
    kflow errors and exceptions that do not come from pymongo pass through.
    """
    try:
        yield
    except KflowError:
        raise
    except Exception as exc:
        message = describe_mongo_error(exc, mask_uri(address))
        if message is None:
            raise
        raise MongoError(message, address=mask_uri(address)) from exc


def describe_mongo_error(exc: BaseException, address: str) -> str | None:
    """One masked line describing a pymongo exception, or ``None`` if ``exc`` is not one."""
    from pymongo import errors

    if not isinstance(exc, errors.PyMongoError):
        return None
    where = f"MongoDB at {address}"
    if isinstance(exc, errors.ServerSelectionTimeoutError):
        reason = str(exc).split(", Timeout:", 1)[0]
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            why = reason.split("certificate verify failed:", 1)[-1].split("(_ssl.c", 1)[0]
            return one_line(
                f"{where}: TLS refused: the server's certificate is not trusted ({why.strip()}); "
                "check tlsCAFile"
            )
        return one_line(f"cannot reach MongoDB at {address}: {reason}")
    if isinstance(exc, errors.OperationFailure) and exc.code == 18:  # AuthenticationFailed
        return one_line(f"{where} refused the login: wrong user name or password (code 18)")
    if isinstance(exc, errors.InvalidURI | errors.ConfigurationError):
        return one_line(f"invalid MongoDB connection {address}: {exc}")
    if isinstance(exc, errors.DuplicateKeyError):
        return one_line(f"{where} rejected a duplicate key: {_errmsg(exc)}")
    if isinstance(exc, errors.BulkWriteError):
        first = (exc.details.get("writeErrors") or [{}])[0]
        return one_line(f"{where} rejected a write: {first.get('errmsg', exc)}")
    if isinstance(exc, errors.OperationFailure):
        code = f" (code {exc.code})" if exc.code is not None else ""
        return one_line(f"{where} rejected the operation: {_errmsg(exc)}{code}")
    if isinstance(exc, errors.AutoReconnect | errors.NetworkTimeout | errors.ConnectionFailure):
        return one_line(f"lost connection to MongoDB at {address}: {exc}")
    return one_line(f"{where}: {type(exc).__name__}: {exc}")


def _errmsg(exc: Any) -> str:
    details = getattr(exc, "details", None) or {}
    return str(details.get("errmsg") or exc)


def parse_extended_json(value: str | bytes | Any) -> Any:
    """Read MongoDB Extended JSON into Python/BSON values.

    Text is parsed as JSON; already-parsed values (dicts, lists) are walked.
    ``{"$oid": ...}`` becomes an ``ObjectId``, ``{"$date": ...}`` a ``datetime``,
    ``{"$numberLong": "1"}`` an ``int`` (``Int64``) and so on, as
    ``bson.json_util`` defines them. Invalid text raises :class:`DataError`.
    """
    from bson import json_util

    if isinstance(value, bytes | bytearray):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            return json_util.loads(value)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc
        except (TypeError, ValueError) as exc:
            raise DataError(f"invalid Extended JSON: {exc}") from exc
    try:
        return _convert_extended(value, json_util)
    except (TypeError, ValueError) as exc:
        raise DataError(f"invalid Extended JSON: {exc}") from exc


def _convert_extended(value: Any, json_util: Any) -> Any:
    if isinstance(value, dict):
        converted = {
            k: v if type(v) is str else _convert_extended(v, json_util) for k, v in value.items()
        }
        return json_util.object_hook(converted)
    if isinstance(value, list):
        return [_convert_extended(v, json_util) for v in value]
    return value
