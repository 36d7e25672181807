"""deliverPolicy and since as a JetStream consumer start, durable names, subject rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from kflow.plugins.nats_consumer import (
    DELIVER_POLICIES,
    ConsumerConfigError,
    StartPosition,
    default_durable,
    durable_problem,
    parse_since,
    start_position,
    subject_problem,
)
from kflow.plugins.nats_deadletter import covers


def test_every_kestra_policy_maps_to_a_server_policy() -> None:
    from nats.js.api import DeliverPolicy

    assert list(DELIVER_POLICIES) == [
        "All",
        "Last",
        "New",
        "ByStartSequence",
        "ByStartTime",
        "LastPerSubject",
    ]
    assert {DeliverPolicy(v).value for v in DELIVER_POLICIES.values()} == {
        p.value for p in DeliverPolicy
    }


def test_no_policy_and_no_since_is_all() -> None:
    assert start_position(None) == StartPosition("All")
    assert start_position("Last").server_policy == "last"
    assert start_position("LastPerSubject").server_policy == "last_per_subject"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00.250+02:00", datetime(2024, 5, 1, 8, 0, 0, 250000, tzinfo=UTC)),
        ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),  # no offset: UTC
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        (" 42 ", 42),
        (7, 7),
    ],
)
def test_since_is_an_instant_or_a_sequence(text: object, expected: object) -> None:
    value = parse_since(text)
    assert value == expected
    if isinstance(value, datetime):
        assert value.utcoffset() is not None


def test_since_from_yaml_values() -> None:
    assert parse_since(date(2024, 1, 2)) == datetime(2024, 1, 2, tzinfo=UTC)
    tz = timezone(timedelta(hours=1))
    assert parse_since(datetime(2024, 1, 2, 3, tzinfo=tz)) == datetime(2024, 1, 2, 2, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01T00:00:00Z", "0", True, -3])
def test_a_bad_since_says_what_is_expected(bad: object) -> None:
    with pytest.raises(ConsumerConfigError):
        parse_since(bad)


def test_since_implies_its_policy_when_none_is_set() -> None:
    by_time = start_position(None, "2024-05-01T00:00:00Z")
    assert by_time.policy == "ByStartTime" and by_time.server_policy == "by_start_time"
    assert by_time.start_time == datetime(2024, 5, 1, tzinfo=UTC)
    by_seq = start_position(None, "17")
    assert by_seq == StartPosition("ByStartSequence", start_sequence=17)
    assert by_seq.server_policy == "by_start_sequence"


def test_start_policies_need_the_right_since() -> None:
    with pytest.raises(ConsumerConfigError, match="ByStartTime needs since"):
        start_position("ByStartTime")
    with pytest.raises(ConsumerConfigError, match="ByStartTime needs since"):
        start_position("ByStartTime", "12")
    with pytest.raises(ConsumerConfigError, match="ByStartSequence needs since"):
        start_position("ByStartSequence", "2024-05-01T00:00:00Z")
    with pytest.raises(ConsumerConfigError, match="not All"):
        start_position("All", "2024-05-01T00:00:00Z")
    with pytest.raises(ConsumerConfigError, match="is unknown"):
        start_position("all")


def test_default_durable_is_stable_and_safe() -> None:
    name = default_durable("dev.shop", "orders.flow", "watch")
    assert name == "kflow-dev_shop-orders_flow-watch"
    assert durable_problem(name) is None
    assert default_durable("dev.shop", "orders.flow", "watch") == name
    long = default_durable("n" * 80, "f", "t")
    assert len(long) == 64 and durable_problem(long) is None
    assert long != default_durable("n" * 81, "f", "t")


def test_durable_problems() -> None:
    assert durable_problem("ok_name-1") is None
    for bad in ("a.b", "a*", "a>", "a b", ""):
        assert durable_problem(bad) is not None, bad


def test_subject_rules() -> None:
    assert subject_problem("orders.eu.>", wildcards=True) is None
    assert subject_problem("orders.*.created", wildcards=True) is None
    assert subject_problem("orders.*", wildcards=False) is not None
    assert subject_problem("orders.", wildcards=True) is not None
    assert subject_problem(">.orders", wildcards=True) is not None


def test_subject_filters_cover_subjects_as_nats_does() -> None:
    assert covers("orders.>", "orders.eu.1")
    assert not covers("orders.>", "orders")
    assert covers("orders.*", "orders.eu")
    assert not covers("orders.*", "orders.eu.1")
    assert covers("orders", "orders")
    assert not covers("orders", "orders.dlq")
    assert covers(">", "anything.at.all")
