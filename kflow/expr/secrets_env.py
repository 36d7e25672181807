"""``envs.*`` and ``secret('X')``: what templates may read from the environment.

``envs`` (see ``envs_from_environ``): as Kestra (0.23+), every variable named
``ENV_<NAME>`` is visible as ``envs.<name>`` (the rest of its name lower-cased:
``ENV_MY_VAR`` -> ``envs.my_var``). kflow also exposes every plain variable
under its own name (``HOME`` -> ``envs.HOME``), because a command-line tool
runs with the user's environment rather than a server's. When both give the
same key, the ``ENV_``-prefixed one wins.

``secret('X')`` reads, in order:
1. ``ctx["_secrets"]["X"]`` when the engine provides a ``_secrets`` mapping;
2. the environment variable ``SECRET_<X upper-cased>``, base64-decoded, as
   Kestra's open source ``SecretService`` does: the name after ``SECRET_`` is
   compared upper-cased (``secret('my_pass')`` reads ``SECRET_MY_PASS``), line
   breaks inside the value are ignored (``base64`` wraps at 76 columns) and
   missing ``=`` padding is accepted; a value that is not base64 is an error;
3. the plain environment variable ``X``.
The environment is ``ctx["_environ"]`` when present, else ``os.environ``. A
missing secret is an ``ExpressionError``.

Every secret value read is recorded so that callers can mask it in logs and
outputs: in ``ctx["_secrets_seen"]`` when the engine put a ``set`` there
(``secret_values_seen(ctx)`` returns it), and process-wide
(``all_secret_values()``).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from typing import Any

from kflow.connectors.masking import register_secret
from kflow.errors import ExpressionError

__all__ = [
    "all_secret_values",
    "envs_from_environ",
    "read_secret",
    "secret_values_seen",
]

_ALL_SECRETS: set[str] = set()


def envs_from_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``envs`` map: plain variables as-is, ``ENV_X`` as ``x`` (prefixed wins)."""
    plain = {k: v for k, v in environ.items() if not k.startswith("ENV_")}
    prefixed = {k[4:].lower(): v for k, v in environ.items() if k.startswith("ENV_") and k[4:]}
    plain.update(prefixed)
    return plain


def read_secret(ctx: Mapping[str, Any], key: str) -> str:
    """The value of secret ``key`` for a template rendered with ``ctx``."""
    value: str | None = None
    secrets = ctx.get("_secrets")
    if isinstance(secrets, Mapping) and key in secrets:
        value = str(secrets[key])
    else:
        environ = ctx.get("_environ")
        env: Mapping[str, str] = environ if isinstance(environ, Mapping) else os.environ
        encoded = _secret_variable(env, key)
        if encoded is not None:
            try:
                value = _decode_base64(encoded).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise ExpressionError(
                    f"secret {key!r}: SECRET_{key.upper()} is not base64-encoded UTF-8 text"
                ) from exc
        elif key in env:
            value = env[key]
    if value is None:
        raise ExpressionError(
            f"cannot find secret {key!r} (set SECRET_{key.upper()} to its base64-encoded value)"
        )
    seen = ctx.get("_secrets_seen")
    if isinstance(seen, set):
        seen.add(value)
    _ALL_SECRETS.add(value)
    register_secret(value)  # masked in every message, log line and output from now on
    return value


def _secret_variable(env: Mapping[str, str], key: str) -> str | None:
    """The value of ``SECRET_<KEY>``; the part after the prefix is matched upper-cased."""
    wanted = key.upper()
    exact = env.get(f"SECRET_{wanted}")
    if exact is not None:
        return exact
    for name, value in env.items():
        if name.startswith("SECRET_") and name[7:].upper() == wanted:
            return value
    return None


_LINE_BREAKS = re.compile(r"\r\n|[\n\x0b\x0c\r\x85\u2028\u2029]")


def _decode_base64(encoded: str) -> bytes:
    """Standard base64 without its line breaks; ``=`` padding may be left out."""
    text = _LINE_BREAKS.sub("", encoded).strip()
    if "=" not in text:
        text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True)


def secret_values_seen(ctx: Mapping[str, Any]) -> frozenset[str]:
    """Secret values read while rendering with ``ctx`` (needs a ``_secrets_seen`` set)."""
    seen = ctx.get("_secrets_seen")
    return frozenset(seen) if isinstance(seen, set) else frozenset()


def all_secret_values() -> frozenset[str]:
    """Every secret value read by this process, for masking."""
    return frozenset(_ALL_SECRETS)
