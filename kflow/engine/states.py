"""States of executions and task runs, as Kestra names them."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLED = "KILLED"
    SKIPPED = "SKIPPED"
    # An execution refused by the flow's ``concurrency`` (behavior CANCEL): no task ran.
    CANCELLED = "CANCELLED"

    @property
    def terminated(self) -> bool:
        return self in _TERMINAL

    @property
    def failed(self) -> bool:
        return self in (State.FAILED, State.KILLED)


_TERMINAL = frozenset(
    {State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.SKIPPED, State.CANCELLED}
)


def worst(states: list[State]) -> State:
    """The state a parent takes from its children: FAILED beats WARNING beats SUCCESS."""
    if any(s is State.KILLED for s in states):
        return State.KILLED
    if any(s is State.FAILED for s in states):
        return State.FAILED
    if any(s is State.WARNING for s in states):
        return State.WARNING
    return State.SUCCESS
