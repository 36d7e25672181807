"""Execution and task-run ids in Kestra's style: 22 base62 characters from 128 random bits.

Ids need to be unique, not secret: they come from ``random.getrandbits``
(microseconds cheaper per call than ``os.urandom`` on virtual machines).
"""

from __future__ import annotations

import random

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_random = random.Random()


def new_id() -> str:
    n = _random.getrandbits(128)
    chars = []
    for _ in range(22):
        n, r = divmod(n, 62)
        chars.append(_ALPHABET[r])
    return "".join(chars)
