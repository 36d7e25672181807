"""Dead-letter delivery: retried while the error is worth retrying, raised otherwise."""

from __future__ import annotations

import asyncio

import pytest

from kflow.engine import delivery
from kflow.errors import FlowError, KafkaError


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "RETRY_INITIAL_S", 0.001)
    monkeypatch.setattr(delivery, "RETRY_MAX_S", 0.004)


def attempts(errors: list[Exception]) -> tuple[list[int], object]:
    calls: list[int] = []

    async def attempt() -> None:
        calls.append(1)
        if errors:
            raise errors.pop(0)

    return calls, attempt


def test_a_broker_away_is_tried_again_until_the_copy_is_acknowledged() -> None:
    calls, attempt = attempts([KafkaError("away"), KafkaError("still away")])
    assert asyncio.run(delivery.until_acknowledged(attempt))  # type: ignore[arg-type]
    assert len(calls) == 3


def test_an_error_not_worth_retrying_is_raised_at_once() -> None:
    calls, attempt = attempts([KafkaError("topic authorization failed", retryable=False)])
    with pytest.raises(KafkaError, match="authorization"):
        asyncio.run(delivery.until_acknowledged(attempt))  # type: ignore[arg-type]
    calls2, attempt2 = attempts([FlowError("bad")])
    with pytest.raises(FlowError):
        asyncio.run(delivery.until_acknowledged(attempt2))  # type: ignore[arg-type]
    assert len(calls) == len(calls2) == 1


def test_once_stopping_it_gives_up_when_the_pause_is_at_its_longest() -> None:
    calls, attempt = attempts([KafkaError("away")] * 100)

    async def main() -> None:
        stopping = asyncio.Event()
        stopping.set()
        await delivery.until_acknowledged(attempt, stopping)  # type: ignore[arg-type]

    with pytest.raises(KafkaError):
        asyncio.run(main())
    assert 3 <= len(calls) < 10  # 1, 2, 4 ms pauses, then the longest: give up


def test_a_moot_copy_is_not_sent() -> None:
    calls, attempt = attempts([])
    assert not asyncio.run(delivery.until_acknowledged(attempt, moot=lambda: True))  # type: ignore[arg-type]
    assert calls == []
