"""Execution and task-run ids in Kestra's style: 22 base62 characters (about 130 random bits).

Ids need to be unique, not secret: they come from ``random``, which costs a
microsecond where ``os.urandom`` costs tens on virtual machines. Each random
byte picks a character (``byte % 62``: the first 8 characters come up a little
more often, which leaves about 5.9 bits per character).
"""

from __future__ import annotations

import random

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TABLE = bytes(ord(_ALPHABET[b % len(_ALPHABET)]) for b in range(256))
_randbytes = random.Random().randbytes


def new_id() -> str:
    return _randbytes(22).translate(_TABLE).decode("ascii")
