"""Process-wide masking of secrets (passwords, tokens) in messages.

Connectors register every secret they are given (a Cassandra password, the
password of a MongoDB URI, a SASL password) with :func:`register_secret`;
every error message they build goes through :func:`mask`, so a secret never
reaches a terminal or a log line.
"""

from __future__ import annotations

import threading

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Remember ``value`` as a secret to hide from now on (empty values are ignored)."""
    global _ordered
    if not value:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Longest first, so a secret that contains another one is hidden whole.
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def forget_secrets() -> None:
    """Forget every registered secret (tests: each starts with none)."""
    global _ordered
    with _lock:
        _secrets.clear()
        _ordered = ()


def mask(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``***``."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def one_line(text: str) -> str:
    """Collapse ``text`` to a single masked line (driver messages often span several)."""
    return mask(" ".join(str(text).split()))
