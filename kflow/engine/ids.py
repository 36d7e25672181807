"""Execution and task-run ids in Kestra's style: 22 base62 characters (about 131 random bits).

Ids need to be unique, not secret: they come from ``random``, which costs a
couple of microseconds where ``os.urandom`` costs tens on virtual machines.
"""

from __future__ import annotations

import random

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_choices = random.Random().choices


def new_id() -> str:
    return "".join(_choices(_ALPHABET, k=22))
