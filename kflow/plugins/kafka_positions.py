"""Where each partition's work stands across rebalances: the Kafka trigger's bookkeeping.

Pure logic, no client: the trigger tells the ledger what the group did (revoked, assigned)
and what it read; the ledger says which records may still start and where a partition given
back must resume. The rules:

- a revoke bumps the partition's *epoch*: records read before it never start (the service
  asks :meth:`PartitionLedger.is_current` under the lock its revoke handler takes);
- the resume point of a revoked partition is the oldest offset whose execution has not
  finished, else the first offset read and not started; it is committed at the revoke;
- a partition assigned again to a consumer that had it is sought to the further of the
  group's committed offset and that resume point before its records are handed over, since
  the client may keep a fetch position past records that were dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kflow.plugins.kafka_offsets import TopicPartition


class PartitionLedger:
    def __init__(self) -> None:
        self.assigned: set[TopicPartition] = set()
        self._epochs: dict[TopicPartition, int] = {}
        self._resume: dict[TopicPartition, int] = {}
        self._first_read: dict[TopicPartition, int] = {}
        self.to_position: set[TopicPartition] = set()
        """Partitions given back whose position must be set before their records go out."""

    def epoch(self, tp: TopicPartition) -> int:
        return self._epochs.get(tp, 0)

    def is_current(self, tp: TopicPartition, epoch: int) -> bool:
        """True while a record read at ``epoch`` may still start."""
        return tp in self.assigned and epoch == self._epochs.get(tp, 0)

    def read(self, tp: TopicPartition, first_offset: int) -> None:
        """Records of ``tp`` were read, the first at ``first_offset``."""
        self._first_read.setdefault(tp, first_offset)

    def stop_starting(self, tps: Iterable[TopicPartition]) -> None:
        """A revoke begins: no record of ``tps`` read so far starts from now on."""
        tps = list(tps)
        # A new set, never changed in place: other threads read (and iterate) it.
        self.assigned = self.assigned - set(tps)
        for tp in tps:
            self._epochs[tp] = self._epochs.get(tp, 0) + 1

    def revoked(
        self, tps: Iterable[TopicPartition], started: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """Where the work of each of ``tps`` resumes, given the engine's positions of the
        partitions it started records of (``started``); remembered in case they come back."""
        resume: dict[TopicPartition, int] = {}
        for tp in tps:
            first_read = self._first_read.pop(tp, None)
            position = started.get(tp, first_read)
            if position is not None:
                resume[tp] = self._resume[tp] = position
        return resume

    def assign(self, now: Iterable[TopicPartition], added: Iterable[TopicPartition]) -> None:
        """The group's new assignment (``now``); ``added`` are the partitions it gave us."""
        self.assigned = set(now)
        self.to_position |= {tp for tp in added if tp in self._resume}

    def position(self, tp: TopicPartition, committed: int | None) -> int | None:
        """Where ``tp``, given back, starts: the further of the group's committed offset and
        our resume point (None: leave the client's position). Marks it positioned."""
        self.to_position.discard(tp)
        known = [o for o in (committed, self._resume.get(tp)) if o is not None]
        return max(known) if known else None
