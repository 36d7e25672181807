"""``kflow run --metrics-port``: ``/metrics``, ``/healthz`` and ``/readyz`` served from a thread.

The HTTP server never touches the engine's state itself: a scrape or a probe asks the
event loop for a :class:`FlowSnapshot` of every watched flow (one callback on the loop,
answered in microseconds) and works from that copy.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from prometheus_client.exposition import choose_encoder

from kflow.engine.events import EventBus, TriggerStatus
from kflow.errors import UsageError
from kflow.observe.metrics import RunMetrics
from kflow.observe.readiness import readiness
from kflow.observe.snapshot import FlowSnapshot

if TYPE_CHECKING:
    from kflow.engine.service import FlowService

SNAPSHOT_TIMEOUT_S = 2.0
"""How long a scrape waits for the event loop; a loop that does not answer is not ready."""


class LoopNotAnswering(Exception):
    """The event loop did not hand over a snapshot in time (or has stopped)."""


class RunObserver:
    """Metrics and health of one ``kflow run``: :meth:`watch` each service, :meth:`close` at
    the end."""

    def __init__(self, bus: EventBus) -> None:
        self.metrics = RunMetrics(self._snapshots_or_last)
        bus.subscribe(self.metrics)
        self._services: list[FlowService] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last: list[FlowSnapshot] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # wiring ---------------------------------------------------------------------------------

    def serve(self, address: str, port: int) -> str:
        """Listen on ``address:port`` (0: a free port) from a thread; returns the base URL."""
        try:
            server = _Server(address, port, self)
        except OSError as exc:
            raise UsageError(
                f"--metrics-port {port}: cannot listen on {address}:{port}: {exc.strerror or exc}"
            ) from exc
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="kflow-metrics", daemon=True
        )
        self._thread.start()
        return server.url

    def watch(self, service: FlowService) -> None:
        """Observe ``service`` (call on its event loop, before it runs)."""
        self._loop = asyncio.get_running_loop()
        self._services.append(service)
        flow = service.runner.flow
        service.source.counter = self.metrics.source_counter(flow.namespace, flow.id)

    def unwatch(self, service: FlowService) -> None:
        """Stop observing ``service`` (it has stopped; ``kflow run --watch`` replaced it). Its
        counts stay: they belong to the flow, not to one version of it."""
        if service in self._services:
            self._services.remove(service)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # snapshots --------------------------------------------------------------------------------

    def snapshots(self) -> list[FlowSnapshot]:
        """A snapshot of every watched flow, taken on the event loop (from any thread)."""
        loop = self._loop
        if loop is None:
            return []
        future: concurrent.futures.Future[list[FlowSnapshot]] = concurrent.futures.Future()

        def take() -> None:
            try:
                future.set_result([snapshot_of(s) for s in self._services])
            except BaseException as exc:
                future.set_exception(exc)

        try:
            loop.call_soon_threadsafe(take)
            taken = future.result(SNAPSHOT_TIMEOUT_S)
        except (RuntimeError, concurrent.futures.TimeoutError) as exc:  # closed, or busy
            raise LoopNotAnswering("the event loop is not answering") from exc
        self._last = taken
        return taken

    def _snapshots_or_last(self) -> list[FlowSnapshot]:
        """For ``/metrics``: the last snapshot when the loop does not answer (stale, not lost)."""
        try:
            return self.snapshots()
        except LoopNotAnswering:
            return self._last

    def ready(self) -> tuple[bool, str]:
        try:
            return readiness(self.snapshots())
        except LoopNotAnswering as exc:
            return False, str(exc)


def snapshot_of(service: FlowService) -> FlowSnapshot:
    """What a scrape needs of ``service``, copied (on its event loop)."""
    flow, source, summary = service.runner.flow, service.source, service.summary
    try:
        status = service.status()
    except Exception as exc:  # a status that cannot be read is reported, not raised
        status = TriggerStatus(source.kind, "unknown", detail=f"status unavailable: {exc}")
    return FlowSnapshot(
        namespace=flow.namespace,
        flow_id=flow.id,
        service=source.kind,
        status=status,
        in_flight=service.pending,
        started=summary.started,
        by_state=dict(summary.by_state),
        dead_lettered=summary.dead_lettered,
        reconnects=source.reconnects,
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: str, port: int, observer: RunObserver) -> None:
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.observer = observer
        super().__init__((address, port), _Handler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "kflow"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        observer = self.server.observer
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._reply(200, encoder(observer.metrics.registry), content_type)
        elif path == "/healthz":
            self._text(200, "ok")
        elif path == "/readyz":
            ready, reason = observer.ready()
            self._text(200 if ready else 503, reason)
        else:
            self._text(404, "not found: /metrics, /healthz or /readyz")

    def _text(self, code: int, text: str) -> None:
        self._reply(code, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def _reply(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """No line on stderr per request."""


def start_observer(
    address: str, port: int, bus: EventBus, say: Callable[[str], None] | None = None
) -> RunObserver:
    """``--metrics-port``: the observer, listening; says where on stderr (or to ``say``)."""
    observer = RunObserver(bus)
    url = observer.serve(address, port)
    line = f"kflow run: metrics on {url}/metrics, health on {url}/healthz and {url}/readyz"
    if say is not None:
        say(line)
    else:
        print(line, file=sys.stderr, flush=True)
    return observer
