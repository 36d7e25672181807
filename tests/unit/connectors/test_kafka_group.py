"""The kafka-python group workarounds, on stand-ins for the client's coordinator."""

from __future__ import annotations

from types import SimpleNamespace

from kflow.connectors.kafka_group import nudge_pending_join


class Coordinator:
    def __init__(self, *, rejoining: bool, need: bool) -> None:
        self.rejoining = rejoining
        self.need = need
        self.requested = 0

    def need_rejoin(self) -> bool:
        return self.need

    def request_rejoin(self) -> None:
        self.requested += 1
        self.need = True


def test_a_join_in_progress_that_poll_would_no_longer_drive_is_driven_again() -> None:
    coordinator = Coordinator(rejoining=True, need=False)
    consumer = SimpleNamespace(_coordinator=coordinator)
    assert nudge_pending_join(consumer) is True
    assert coordinator.requested == 1
    assert nudge_pending_join(consumer) is False  # poll drives it now
    assert coordinator.requested == 1


def test_a_stable_member_or_another_client_is_left_alone() -> None:
    stable = Coordinator(rejoining=False, need=False)
    assert nudge_pending_join(SimpleNamespace(_coordinator=stable)) is False
    assert stable.requested == 0
    assert nudge_pending_join(SimpleNamespace()) is False


def test_a_member_is_replaced_only_when_its_membership_looks_stuck() -> None:
    from kflow.plugins.kafka_trigger import STALLED_AFTER_S, membership_looks_stuck

    # more members than partitions: stable, nothing assigned, nothing wrong
    assert not membership_looks_stuck(assigned=False, stable=True, heartbeat_silence=1.0)
    # a join that does not end
    assert membership_looks_stuck(assigned=False, stable=False, heartbeat_silence=None)
    assert membership_looks_stuck(assigned=False, stable=None, heartbeat_silence=None)
    # partitions held, coordinator heard from (or not known): fine
    assert not membership_looks_stuck(assigned=True, stable=True, heartbeat_silence=2.0)
    assert not membership_looks_stuck(assigned=True, stable=None, heartbeat_silence=None)
    # partitions held, coordinator silent past the threshold
    silent = STALLED_AFTER_S + 1
    assert membership_looks_stuck(assigned=True, stable=True, heartbeat_silence=silent)
