"""How a NATS trigger's properties become a JetStream consumer: pure logic, no driver.

- ``deliverPolicy`` is Kestra's (jnats) enum name: ``All`` (the default), ``Last``, ``New``,
  ``ByStartSequence``, ``ByStartTime``, ``LastPerSubject``; :data:`DELIVER_POLICIES` maps
  them to the server's names.
- ``since`` is where ``ByStartTime`` starts: an ISO-8601 instant (a date, or a date-time
  without an offset, is read as UTC). kflow also reads a whole number in ``since`` as the
  stream sequence ``ByStartSequence`` starts at: Kestra has no property for it, so its
  ``ByStartSequence`` is refused by the server. When ``deliverPolicy`` is not set, ``since``
  implies ``ByStartTime`` (an instant) or ``ByStartSequence`` (a number); Kestra passes the
  default ``All`` with the start time, which the server refuses.
- Without ``durableId`` kflow names the durable consumer after the flow and the trigger
  (:func:`default_durable`), so a restart goes on where the last run stopped; Kestra then
  makes an ephemeral consumer that starts over by ``deliverPolicy`` on every start.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

DELIVER_POLICIES = {
    "All": "all",
    "Last": "last",
    "New": "new",
    "ByStartSequence": "by_start_sequence",
    "ByStartTime": "by_start_time",
    "LastPerSubject": "last_per_subject",
}
"""Kestra's ``deliverPolicy`` values and the JetStream ``deliver_policy`` they select."""

MAX_DURABLE = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class ConsumerConfigError(ValueError):
    """Trigger properties that cannot make a consumer (the message says why)."""


@dataclass(frozen=True)
class StartPosition:
    """Where a new consumer starts: the server's policy and its start sequence or time."""

    policy: str  # a Kestra name, e.g. "ByStartTime"
    start_sequence: int | None = None
    start_time: datetime | None = None

    @property
    def server_policy(self) -> str:
        return DELIVER_POLICIES[self.policy]


def parse_since(value: object) -> datetime | int:
    """``since`` as a UTC instant, or a stream sequence when it is a whole number."""
    if isinstance(value, bool):
        raise ConsumerConfigError(f"since must be an ISO-8601 instant, got {value!r}")
    if isinstance(value, int):
        return _sequence(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return _sequence(int(text))
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConsumerConfigError(
            f"since must be an ISO-8601 instant such as 2024-05-01T00:00:00Z, got {text!r}"
        ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _sequence(number: int) -> int:
    if number < 1:
        raise ConsumerConfigError(f"a start sequence in since is at least 1, got {number}")
    return number


def start_position(policy: str | None, since: object = None) -> StartPosition:
    """The start of a new consumer from ``deliverPolicy`` (None: not set) and ``since``."""
    if policy is not None and policy not in DELIVER_POLICIES:
        names = ", ".join(DELIVER_POLICIES)
        raise ConsumerConfigError(f"deliverPolicy {policy!r} is unknown; expected one of {names}")
    start = None if since is None or since == "" else parse_since(since)
    if policy is None:
        if start is None:
            return StartPosition("All")
        policy = "ByStartSequence" if isinstance(start, int) else "ByStartTime"
    if policy == "ByStartTime":
        if not isinstance(start, datetime):
            raise ConsumerConfigError(
                "deliverPolicy ByStartTime needs since: the ISO-8601 instant to start at"
            )
        return StartPosition(policy, start_time=start)
    if policy == "ByStartSequence":
        if not isinstance(start, int):
            raise ConsumerConfigError(
                "deliverPolicy ByStartSequence needs since: the stream sequence to start at "
                "(a whole number)"
            )
        return StartPosition(policy, start_sequence=start)
    if start is not None:
        raise ConsumerConfigError(
            f"since applies to deliverPolicy ByStartTime or ByStartSequence, not {policy}"
        )
    return StartPosition(policy)


def default_durable(namespace: str, flow_id: str, trigger_id: str) -> str:
    """``kflow-<namespace>-<flow>-<trigger>``, safe as a durable name (no ``.``, ``*``, ``>``
    or spaces), at most 64 characters: stable across runs of the same trigger."""
    text = _UNSAFE.sub("_", f"kflow-{namespace}-{flow_id}-{trigger_id}")
    if len(text) <= MAX_DURABLE:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    return f"{text[: MAX_DURABLE - 11]}-{digest}"


def durable_problem(name: str) -> str | None:
    """Why ``name`` cannot name a durable consumer, or None."""
    if not name:
        return "durableId cannot be empty"
    if any(c in name for c in ".*>") or any(c.isspace() for c in name):
        return f"durableId {name!r} cannot hold '.', '*', '>' or spaces"
    return None


def subject_problem(subject: str, *, wildcards: bool) -> str | None:
    """Why ``subject`` is not a NATS subject (with ``*``/``>`` when ``wildcards``), or None."""
    if not subject:
        return "a subject cannot be empty"
    if any(c.isspace() for c in subject):
        return f"subject {subject!r} cannot hold spaces"
    tokens = subject.split(".")
    if any(t == "" for t in tokens):
        return f"subject {subject!r} has an empty token (two dots, or a dot at an end)"
    for i, token in enumerate(tokens):
        if token in ("*", ">") or "*" in token or ">" in token:
            if not wildcards:
                return f"subject {subject!r} to publish to cannot hold the wildcards * or >"
            if token not in ("*", ">"):
                return f"a wildcard must be a whole token in subject {subject!r}"
            if token == ">" and i != len(tokens) - 1:
                return f"> must be the last token of subject {subject!r}"
    return None
