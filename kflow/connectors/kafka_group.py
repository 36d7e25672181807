"""What kafka-python 3's group membership needs from its users, in one place.

kafka-python 3.0.x runs the group protocol on a network thread of its own, and calls
rebalance listeners there. Three consequences, each handled here rather than in the trigger:

- A blocking call in a listener (``consumer.commit()``) fails on that thread ("Cannot block on
  net.run() from the IO thread itself"). :func:`commit_in_listener` awaits the coordinator's
  commit instead, and :func:`pause_in_listener` awaits a delay without blocking heartbeats;
  both need an ``AsyncConsumerRebalanceListener``.
- A join can stall for good: ``poll()`` drives a join only while ``need_rejoin()`` holds, and
  that turns false as soon as the leader has computed its assignment. If the ``poll()`` that
  sent JoinGroup gave up before SyncGroup answered, no later ``poll()`` awaits the answer; the
  member stays "rebalancing" without partitions or heartbeats until it is replaced.
  :func:`nudge_pending_join`, called before each ``poll()``, asks for the join to be driven
  again while one is under way (the Java client's ``rejoinNeededOrPending``).
- The rebalance timeout is ``max.poll.interval.ms`` (300 s by default): a member that
  heartbeats but has not rejoined holds the whole group that long. kflow polls every few tens
  of milliseconds, so the trigger sets it lower (:data:`MAX_POLL_INTERVAL_MS`).

Each helper degrades to doing nothing when the client's internals differ (another version),
which costs redeliveries or a slower recovery, never a skipped record.
"""

from __future__ import annotations

from typing import Any

MAX_POLL_INTERVAL_MS = 30_000


def _coordinator(consumer: Any) -> Any:
    return getattr(consumer, "_coordinator", None)


def nudge_pending_join(consumer: Any) -> bool:
    """Make the next ``poll()`` await a join in progress; True if it had to."""
    coordinator = _coordinator(consumer)
    if coordinator is None or not getattr(coordinator, "rejoining", False):
        return False
    try:
        if coordinator.need_rejoin():
            return False
        coordinator.request_rejoin()
    except Exception:
        return False
    return True


def warm_metadata(consumer: Any, topics: list[str]) -> None:
    """Read the topics' metadata before the first ``poll()``: an assignment computed without
    it is empty, and the group rejoins at once (the rebalance in which joins got stuck)."""
    for topic in topics:
        consumer.partitions_for_topic(topic)


def member_is_stable(consumer: Any) -> bool | None:
    """True when the member has joined and heartbeats, False while it (re)joins, None if the
    client does not say."""
    state = getattr(_coordinator(consumer), "state", None)
    if not isinstance(state, str):
        return None
    from kafka.structs import MemberState

    return state == MemberState.STABLE


async def commit_in_listener(consumer: Any, offsets: dict[Any, Any], timeout_ms: int) -> bool:
    """Commit from a rebalance listener; False if this client cannot do it there."""
    commit = getattr(_coordinator(consumer), "_commit_offsets_sync_async", None)
    if commit is None:
        return False
    await commit(offsets, timeout_ms=timeout_ms)
    return True


async def pause_in_listener(consumer: Any, seconds: float) -> bool:
    """Wait in a rebalance listener while heartbeats go on; False if this client cannot."""
    net = getattr(_coordinator(consumer), "_net", None)
    sleep = getattr(net, "sleep", None)
    if sleep is None:
        return False
    await sleep(seconds)
    return True
