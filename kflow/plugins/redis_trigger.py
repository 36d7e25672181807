"""Redis list ``RealtimeTrigger``: a reliable queue, one execution per element.

Kestra pops the list with ``LPOP`` every 100 ms: at most ~10 elements a second, and what
it popped is gone whatever happens next. kflow moves each element atomically from the
head of the list to the tail of a processing list of its own (``BLMOVE key processing
LEFT RIGHT``, Redis 6.2 or later: it blocks until an element arrives, no polling sleep),
and removes it from there (``LREM``) only once its execution has finished, whatever its
outcome (a failed one is copied to ``--dead-letter LIST`` first, when given). So:

- **a crash** (kill -9, a lost machine) leaves the unfinished elements in the processing
  list; the next start moves them back to the head of the list, in their order, before it
  reads anything else: they run again, first (at least once);
- **a clean stop** lets in-flight executions finish and removes their elements; the
  elements moved but not started go back to the head of the list: the processing list
  ends empty;
- **a dropped connection or a Redis restart** leaves everything where it is; the trigger
  reports ``reconnecting`` and connects again with back-off (0.5 s doubling to 5 s). The
  executions running go on; their removals wait and are sent once Redis answers. An
  element whose move Redis made but whose answer was lost is found in the processing list
  on reconnection and run. Nothing runs twice because of a reconnection.

**Consumers.** Each ``kflow run`` holds a lease (``<processing>:owner``, 5 s, renewed every
second) on its processing list, so two processes never share one: the default name is
``<key>:kflow:<namespace>.<flowId>.<triggerId>:<n>`` with ``n`` the first one whose lease
is free, so several processes on one list are competing consumers with no configuration,
and a restarted process takes its own list back (once the dead one's lease lapsed, at most
5 s). ``processingList`` names the list exactly. A start only ever recovers the list whose
lease it holds.

**Ordering.** Elements carry no key: they are started in list order and run concurrently
(at most ``--concurrency`` moved and unfinished at once: the back-pressure). Use
``--concurrency 1`` for strictly one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kflow.connectors.redis import (
    RedisError,
    RedisSettings,
    client,
    error_line,
    redis_errors,
    settings_from,
)
from kflow.engine.events import StreamStatus, TriggerStatus
from kflow.engine.execution import TriggerRecord
from kflow.engine.source import Outcome, RecordSource, SourceOptions
from kflow.errors import KflowError
from kflow.expr import render_value
from kflow.flow.model import TriggerDef
from kflow.plugins.kafka_serde import decoder
from kflow.plugins.redis_record import RedisElement

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from kflow.plugins.redis_deadletter import RedisDeadLetter

SERDE_TYPES = ("STRING", "JSON")
BATCH = 256
BLOCK_S = 2.0
"""How long one BLMOVE waits for an element (it returns at once when one arrives)."""
BURST_MAX = 256
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 5.0
LEASE_TTL_MS = 5000
LEASE_EVERY_S = 1.0
LIVENESS_S = 1.5
"""A live owner renews its lease within this long."""
MAX_SLOTS = 64
CLOSE_TIMEOUT_S = 5.0
STATUS_WATCHED_S = 3.0

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
_RETURN_ALL = """
local n = 0
while redis.call('lmove', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do
  n = n + 1
end
return n
"""
"""Every element of the processing list back to the head of the list, order kept."""


def default_base(key: str, namespace: str, flow_id: str, trigger_id: str) -> str:
    """The processing lists of a trigger are ``<this>:<n>``."""
    return f"{key}:kflow:{namespace}.{flow_id}.{trigger_id}"


class RealtimeTrigger(RecordSource):
    """Consumes the list ``key`` for one flow trigger."""

    kind = "redis"

    def __init__(
        self,
        trigger_id: str,
        props: Mapping[str, Any],
        *,
        flow: tuple[str, str] = ("default", "flow"),
        prefetch: int = 64,
    ) -> None:
        self.trigger_id = trigger_id
        self.what = f"trigger '{trigger_id}'"
        self.settings: RedisSettings = settings_from(props, self.what)
        self.key = str(props.get("key") or "")
        if not self.key:
            raise RedisError(f"{self.what}: missing key", retryable=False)
        self.serde = str(props.get("serdeType") or "STRING").upper()
        if self.serde not in SERDE_TYPES:
            raise RedisError(
                f"{self.what}: serdeType must be STRING or JSON, got {self.serde}", retryable=False
            )
        self._decode = decoder(self.serde)
        explicit = str(props.get("processingList") or "").strip()
        self.explicit = explicit or None
        self.base = default_base(self.key, flow[0], flow[1], trigger_id)
        if self.explicit == self.key:
            raise RedisError(
                f"{self.what}: processingList must not be the list itself ({self.key})",
                retryable=False,
            )
        self.processing = self.explicit or f"{self.base}:1"
        self.prefetch = max(1, int(prefetch))
        self.notify: Callable[[str], None] | None = None
        self._token = f"{socket.gethostname()} pid {os.getpid()} {secrets.token_hex(4)}"
        self._client: Redis | None = None
        self._held: Counter[bytes] = Counter()  # in the processing list, not yet removed
        self._in_flight = 0  # the total of _held
        self._buffer: deque[RedisElement] = deque()
        self._ready = asyncio.Event()
        self._acks: deque[bytes] = deque()
        self._ack_ready = asyncio.Event()
        self._room = asyncio.Event()
        self._up = asyncio.Event()  # connected (set) or reconnecting
        self._stopping = asyncio.Event()
        self._closing = False
        self._paused = False
        self._reader: asyncio.Task[None] | None = None
        self._acker: asyncio.Task[None] | None = None
        self._leaser: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._state = "connecting"
        self._detail: str | None = None
        self._backlog: int | None = None
        self._watched_at = 0.0
        self._seq = 0
        self._burst = 1
        self.recovered = 0  # elements moved back to the list at start
        self.returned = 0  # elements moved back to the list at stop
        self.removed = 0
        self.reconnects = 0
        self.peak_in_flight = 0

    @property
    def in_flight(self) -> int:
        """Elements moved into the processing list and not removed yet."""
        return self._in_flight

    def describe(self) -> str:
        return f"redis list {self.key} @ {self.settings.describe()}"

    # construction --------------------------------------------------------------------

    @classmethod
    def from_trigger(
        cls, trigger: TriggerDef, variables: Mapping[str, Any], options: SourceOptions
    ) -> RealtimeTrigger:
        props = dict(trigger.props)
        if options.overrides:
            from kflow.engine.overrides import apply_overrides

            props = apply_overrides(props, options.overrides)
        flow = variables.get("flow") or {}
        names = (str(flow.get("namespace") or "default"), str(flow.get("id") or "flow"))
        rendered = render_value(props, dict(variables))
        return cls(trigger.id, rendered, flow=names, prefetch=options.prefetch)

    @classmethod
    def event_record(cls, trigger: TriggerDef | None, event: str, key: str | None) -> RedisElement:
        serde = str((trigger.props if trigger else {}).get("serdeType") or "STRING").upper()
        record = RedisElement(value=None, key=key, timestamp_ms=int(time.time() * 1000))
        try:
            record.value = decoder(serde)(event.encode("utf-8"))
        except Exception as exc:
            record.error = f"cannot decode --event as {serde}: {exc}"
        return record

    def dead_letter(self, target: str | None) -> RedisDeadLetter | None:
        """``--dead-letter LIST``: every finally failed element is pushed (RPUSH) to LIST,
        unchanged, before it leaves the processing list."""
        if not target:
            return None
        from kflow.plugins.redis_deadletter import RedisDeadLetter

        return RedisDeadLetter(self, target)

    @property
    def redis(self) -> Any:
        """The started client (typed loosely: redis-py's annotations assume text, kflow
        reads and writes bytes)."""
        assert self._client is not None, "the trigger is not started"
        return self._client

    # RecordSource ------------------------------------------------------------------

    async def start(self) -> None:
        self._client = client(self.settings, name=f"kflow {self.what} list {self.key}")
        prefix = f"{self.what}: list {self.key}: "
        try:
            with redis_errors(self.settings.address, prefix):
                await self._check_server()
                self.processing = await self._claim()
                self.recovered = int(await self._return_all())
                self._backlog = int(await self.redis.llen(self.key))
        except BaseException:
            with contextlib.suppress(Exception):
                await self._release()
            await self._close_client()
            raise
        if self.recovered:
            self._say(
                f"moved {self.recovered} unfinished element(s) of {self.processing} back to "
                f"the head of {self.key}: they run again, first"
            )
        self._state = "running"
        self._up.set()
        self._update_room()
        self._reader = asyncio.create_task(self._read(), name="kflow-redis-reader")
        self._acker = asyncio.create_task(self._write_acks(), name="kflow-redis-acks")
        self._leaser = asyncio.create_task(self._keep_lease(), name="kflow-redis-lease")

    async def next_batch(self, timeout: float) -> list[TriggerRecord]:
        if not self._buffer and self._failure is None:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        if self._failure is not None:
            raise self._failure
        out: list[TriggerRecord] = []
        while self._buffer and len(out) < BATCH:
            out.append(self._buffer.popleft())
        return out

    def ack(self, record: TriggerRecord, outcome: Outcome) -> None:
        assert isinstance(record, RedisElement)
        if record.raw_value is None or record.processing is None:
            return  # an --event record
        self._acks.append(record.raw_value)
        self._ack_ready.set()

    def pause(self, paused: bool) -> None:
        self._paused = paused
        self._update_room()

    def status(self) -> TriggerStatus:
        self._watched_at = time.monotonic()
        detail = self._detail
        if detail is None and self._paused:
            detail = "paused (back-pressure)"
        return TriggerStatus(
            self.describe(),
            self._state,
            (StreamStatus(f"list {self.key}", self._backlog),),
            in_flight=self.in_flight,
            detail=detail,
            label="lists",
        )

    async def stop(self) -> None:
        """Stop reading, send the removals made so far, move what never ran back to the head
        of the list, give up the lease, close."""
        if self._closing:
            return
        self._closing = True
        self._state = "stopping"
        self._stopping.set()
        for task in (self._reader, self._leaser):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._ack_ready.set()
        if self._acker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._acker, CLOSE_TIMEOUT_S)
        if self._client is not None:
            try:
                with redis_errors(self.settings.address, f"{self.what}: "):
                    await asyncio.wait_for(self._stop_on_server(), CLOSE_TIMEOUT_S)
            except (KflowError, TimeoutError) as exc:
                self._say(
                    f"could not settle {self.processing} at stop ({exc}); its elements are "
                    "recovered at the next start"
                )
        await self._close_client()
        self._state = "stopped"

    async def _stop_on_server(self) -> None:
        if await self.redis.get(self._lease) == self._token.encode():
            if self._acks:  # removals the acknowledgement task could not send
                async with self.redis.pipeline(transaction=False) as pipe:
                    for raw in self._acks:
                        pipe.lrem(self.processing, 1, raw)
                    await pipe.execute()
                self.removed += len(self._acks)
                self._acks.clear()
            self._buffer.clear()
            self.returned = int(await self._return_all())
            self._held.clear()
            self._in_flight = 0
        await self._release()

    async def _close_client(self) -> None:
        redis, self._client = self._client, None
        if redis is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(redis.aclose(), CLOSE_TIMEOUT_S)

    # the server, the lease ---------------------------------------------------------------

    @property
    def _lease(self) -> str:
        return f"{self.processing}:owner"

    async def _check_server(self) -> None:
        info = await self.redis.info("server")
        version = str(info.get("redis_version") or "0")
        parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:2]]
        if tuple([*parts, 0, 0])[:2] < (6, 2):
            raise RedisError(
                f"{self.what}: Redis at {self.settings.address} is version {version}; the "
                "trigger needs 6.2 or later (BLMOVE)",
                retryable=False,
            )

    async def _claim(self) -> str:
        """The processing list this process holds the lease of (waiting for a dead owner's
        lease to lapse, skipping the lists of live ones)."""
        names = (
            [self.explicit]
            if self.explicit
            else [f"{self.base}:{n}" for n in range(1, MAX_SLOTS + 1)]
        )
        for name in names:
            lease = f"{name}:owner"
            if await self._take(lease):
                return name
            holder = await self.redis.get(lease)
            first = await self.redis.pttl(lease)
            await asyncio.sleep(LIVENESS_S)
            if await self._take(lease):
                return name
            later = await self.redis.pttl(lease)
            if later > first - int(LIVENESS_S * 1000) + 300:
                continue  # renewed meanwhile: a live consumer's list
            who = (holder or b"?").decode("utf-8", "replace")
            self._say(f"waiting for the lease of {name} ({who}, stopped) to lapse")
            await asyncio.sleep(max(later, 0) / 1000 + 0.05)
            if await self._take(lease):
                return name
        if self.explicit:
            raise RedisError(
                f"{self.what}: processing list {self.explicit} is in use by another running "
                "kflow; give this one another processingList",
                retryable=False,
            )
        raise RedisError(
            f"{self.what}: all {MAX_SLOTS} processing lists of {self.base} are in use",
            retryable=False,
        )

    async def _take(self, lease: str) -> bool:
        return bool(await self.redis.set(lease, self._token, nx=True, px=LEASE_TTL_MS))

    async def _renew(self) -> bool:
        renewed = await self.redis.eval(_RENEW, 1, self._lease, self._token, LEASE_TTL_MS)
        return bool(renewed) or await self._take(self._lease)

    async def _release(self) -> None:
        if self._client is not None:
            await self.redis.eval(_RELEASE, 1, self._lease, self._token)

    async def _return_all(self) -> int:
        moved = await self.redis.eval(_RETURN_ALL, 2, self.processing, self.key)
        return int(moved or 0)

    async def _keep_lease(self) -> None:
        """Renew the lease every second (and read the backlog while someone watches)."""
        while True:
            await asyncio.sleep(LEASE_EVERY_S)
            await self._up.wait()
            try:
                if not await self._renew():
                    raise RedisError(
                        f"{self.what}: another consumer took the lease of {self.processing} "
                        "while Redis could not be reached; stopping (its elements run there)",
                        retryable=False,
                    )
                if time.monotonic() - self._watched_at <= STATUS_WATCHED_S:
                    self._backlog = int(await self.redis.llen(self.key))
            except RedisError as exc:
                self._fail(exc)
                return
            except Exception:  # the reader notices a lost connection and says so
                continue

    # reading -----------------------------------------------------------------------------

    def _update_room(self) -> None:
        if not self._paused and self.in_flight < self.prefetch:
            self._room.set()
        else:
            self._room.clear()

    async def _read(self) -> None:
        """The one task that moves elements, and the one that reconnects (so that nothing is
        moved while it compares the processing list with what it holds)."""
        while not self._closing and self._failure is None:
            if not self._up.is_set():
                await self._reconnect()
                self._update_room()
                continue
            await self._room.wait()
            if not self._up.is_set() or self._paused or self.in_flight >= self.prefetch:
                self._update_room()  # woken by a lost connection
                continue
            try:
                raw = await self.redis.blmove(self.key, self.processing, BLOCK_S, "LEFT", "RIGHT")
                if raw is None:
                    continue
                self._take_in([raw])
                await self._read_burst()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closing:
                    return
                message, retryable = error_line(exc, self.settings.address, connected=True)
                if not retryable:
                    self._fail(RedisError(f"{self.what}: list {self.key}: {message}"))
                    return
                self._lost(message)

    async def _read_burst(self) -> None:
        """Move more elements in one round trip while the list has them (the burst doubles
        while it comes back full, and starts over at 1 when the list ran dry)."""
        room = self.prefetch - self.in_flight
        if room <= 0 or self._paused:
            return
        n = min(room, self._burst)
        async with self.redis.pipeline(transaction=False) as pipe:
            for _ in range(n):
                pipe.lmove(self.key, self.processing, "LEFT", "RIGHT")
            moved = [raw for raw in await pipe.execute() if raw is not None]
        self._take_in(moved)
        self._burst = min(self._burst * 2, BURST_MAX) if len(moved) == n else 1

    def _take_in(self, raws: list[bytes]) -> None:
        now = int(time.time() * 1000)
        for raw in raws:
            self._held[raw] += 1
            self._in_flight += 1
            self._buffer.append(self._record(raw, now))
        if raws:
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._update_room()
            self._ready.set()

    def _record(self, raw: bytes, now: int) -> RedisElement:
        self._seq += 1
        record = RedisElement(
            value=None,
            timestamp_ms=now,
            raw_value=raw,
            list_key=self.key,
            processing=self.processing,
            seq=self._seq,
        )
        try:
            record.value = self._decode(raw)
        except Exception as exc:  # a bad element fails its own execution, never the trigger
            record.error = (
                f"cannot decode element #{self._seq} of list {self.key} as {self.serde}: {exc}"
            )
        return record

    # connection loss -----------------------------------------------------------------

    def _lost(self, reason: str) -> None:
        """The connection broke (seen by any task): the reader reconnects."""
        if not self._up.is_set() or self._closing:
            return
        self._up.clear()
        self._room.set()  # wake the reader, which reconnects
        self.reconnects += 1
        self._state = "reconnecting"
        self._detail = reason
        self._say(
            f"{reason}; reconnecting (the {self.in_flight} element(s) in flight stay in "
            f"{self.processing})"
        )

    async def _reconnect(self) -> None:
        """Connect again with back-off, keep the lease, then run what Redis moved without
        this process knowing (a move whose answer the broken connection lost)."""
        delay = BACKOFF_INITIAL_S
        last = self._detail
        while not self._closing and self._failure is None:
            try:
                with redis_errors(self.settings.address):
                    await self.redis.ping()
                    if not await self._renew():
                        self._fail(
                            RedisError(
                                f"{self.what}: another consumer took the lease of "
                                f"{self.processing} while Redis could not be reached",
                                retryable=False,
                            )
                        )
                        return
                    await self._adopt_unknown()
            except RedisError as exc:
                problem = str(exc)
                if problem != last:  # one line per distinct problem, not one per attempt
                    self._say(f"{problem}; retrying (every {BACKOFF_MAX_S:g} s at most)")
                    last = problem
                self._detail = problem
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            self._state = "running"
            self._detail = None
            self._up.set()
            self._say(f"reconnected to Redis at {self.settings.address}, reading {self.key}")
            return

    async def _adopt_unknown(self) -> None:
        """Elements in the processing list this process does not know of: moves whose answer
        the lost connection swallowed. They are run like any other."""
        listed = Counter(await self.redis.lrange(self.processing, 0, -1))
        unknown = listed - self._held
        if unknown:
            self._take_in(list(unknown.elements()))

    def _fail(self, exc: BaseException) -> None:
        self._failure = exc
        self._ready.set()

    # acknowledgements ------------------------------------------------------------------

    async def _write_acks(self) -> None:
        while True:
            await self._ack_ready.wait()
            self._ack_ready.clear()
            while self._acks:
                batch = list(self._acks)
                try:
                    await self._up.wait()
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for raw in batch:
                            pipe.lrem(self.processing, 1, raw)
                        await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if self._closing and not self._up.is_set():
                        return
                    message, _ = error_line(exc, self.settings.address, connected=True)
                    self._lost(message)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), BACKOFF_INITIAL_S)
                    if self._closing:
                        return
                    continue
                for raw in batch:
                    self._acks.popleft()
                    self._held[raw] -= 1
                    self._in_flight -= 1
                    if self._held[raw] <= 0:
                        del self._held[raw]
                self.removed += len(batch)
                self._update_room()
            if self._closing:
                return

    def _say(self, text: str) -> None:
        if self.notify is not None:
            self.notify(f"kflow run: {self.what}: {text}")
