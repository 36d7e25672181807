"""Delays between attempts for Kestra's ``constant``, ``exponential`` and ``random`` retries."""

from __future__ import annotations

import random

from kflow.flow.model import RetryPolicy, RetryType


def next_delay(policy: RetryPolicy, attempt: int, elapsed: float) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None when no attempt is left.

    ``attempt`` counts the attempts made so far (1 after the first failure);
    ``elapsed`` is the time since the first attempt started.
    """
    if policy.max_attempts is not None and attempt >= policy.max_attempts:
        return None
    if policy.max_attempts is None and policy.max_duration is None:
        return None  # Kestra requires one of them; never retry forever by accident
    if policy.type is RetryType.CONSTANT:
        delay = policy.interval or 0.0
    elif policy.type is RetryType.EXPONENTIAL:
        base = policy.interval or 1.0
        factor = policy.delay_factor if policy.delay_factor is not None else 2.0
        delay = base * factor ** (attempt - 1)
        if policy.max_interval is not None:
            delay = min(delay, policy.max_interval)
    else:
        low = policy.min_interval or 0.0
        high = policy.max_interval if policy.max_interval is not None else low
        delay = random.uniform(low, max(low, high))
    if policy.max_duration is not None and elapsed + delay > policy.max_duration:
        return None
    return delay
