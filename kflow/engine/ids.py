"""Execution and task-run ids in Kestra's style: 22 base62 characters from 128 random bits."""

from __future__ import annotations

import os

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id() -> str:
    n = int.from_bytes(os.urandom(16), "big")
    chars = []
    for _ in range(22):
        n, r = divmod(n, 62)
        chars.append(_ALPHABET[r])
    return "".join(chars)
