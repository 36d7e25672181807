"""Which offsets may be committed: only those below which every execution has finished.

Records of one partition are started in offset order but may finish in any
order. For each partition we keep the offsets still in flight in insertion
(= offset) order; the committable position (Kafka's "next offset to read") is
the oldest one still in flight, or one past the newest started when none is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TopicPartition = tuple[str, int]


@dataclass(eq=False)
class PartitionOffsets:
    """One partition's bookkeeping; a revoke replaces it, so holders of the old one
    (executions started before the revoke) can tell their work no longer counts."""

    in_flight: dict[int, None] = field(default_factory=dict)
    last_started: int = -1
    committed: int | None = None  # last position handed out for commit

    def position(self) -> int | None:
        if self.in_flight:
            return next(iter(self.in_flight))
        return self.last_started + 1 if self.last_started >= 0 else None


@dataclass
class OffsetTracker:
    partitions: dict[TopicPartition, PartitionOffsets] = field(default_factory=dict)

    def started(self, tp: TopicPartition, offset: int) -> PartitionOffsets | None:
        """Track ``offset`` as in flight; None (not tracked) when it is not past the last one
        started, which only a redelivery after a rebalance can cause."""
        part = self.partitions.setdefault(tp, PartitionOffsets())
        if offset <= part.last_started:
            return None
        part.in_flight[offset] = None
        part.last_started = offset
        return part

    @staticmethod
    def finished(part: PartitionOffsets, offset: int) -> None:
        part.in_flight.pop(offset, None)

    def holds(self, tp: TopicPartition, part: PartitionOffsets) -> bool:
        """True while ``part`` is still the live bookkeeping of ``tp`` (not revoked since)."""
        return self.partitions.get(tp) is part

    def in_flight(self, tps: list[TopicPartition] | None = None) -> int:
        """Offsets started and not finished, in ``tps`` (all partitions by default)."""
        if tps is None:
            return sum(len(p.in_flight) for p in self.partitions.values())
        return sum(len(p.in_flight) for tp in tps if (p := self.partitions.get(tp)) is not None)

    def committable(self) -> dict[TopicPartition, int]:
        """Positions that moved since the last call; marks them as handed out."""
        out: dict[TopicPartition, int] = {}
        for tp, part in self.partitions.items():
            pos = part.position()
            if pos is not None and pos != part.committed:
                out[tp] = pos
                part.committed = pos
        return out

    def positions(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Where work on each of ``tps`` would resume now (tracked partitions only)."""
        out: dict[TopicPartition, int] = {}
        for tp in tps:
            part = self.partitions.get(tp)
            pos = part.position() if part is not None else None
            if pos is not None:
                out[tp] = pos
        return out

    def forget(self, tps: list[TopicPartition]) -> None:
        """Drop revoked partitions: whatever is still in flight there is never committed."""
        for tp in tps:
            self.partitions.pop(tp, None)
