"""Command line of ``devstack/stack``: up, down, restart, status, logs, rabbitmqctl."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import debian, procs
from .builds import BuildError
from .probes import ProbeError
from .secure import PROFILE, secure_services
from .services import RabbitMQ, Service, ServiceError, all_services
from .settings import Layout, Ports

_print_lock = threading.Lock()


def say(message: str) -> None:
    with _print_lock:
        print(message, flush=True)


@dataclass
class Outcome:
    """What happened to one service; ``log`` is the file that explains a failure."""

    service: Service
    ok: bool
    detail: str
    seconds: float
    log: Path | None = None
    show_log: bool = True


class _Refused(ServiceError):
    """``up`` would not start the service; its log has nothing to say about why."""


def _wait_ready(service: Service, proc: subprocess.Popen[bytes] | None, started: float) -> str:
    """Probe until the service answers; raise ServiceError if it dies or takes too long."""
    deadline = started + service.start_timeout
    next_report = time.monotonic() + 15
    last_error = "no answer yet"
    while True:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"process exited with code {proc.returncode} before it answered")
        if proc is None and procs.running_pid(service.pidfile, service.marker) is None:
            raise ServiceError("process exited before it answered")
        try:
            return service.probe(timeout=3.0)
        except ProbeError as exc:
            last_error = str(exc)
        now = time.monotonic()
        if now >= deadline:
            raise ServiceError(
                f"no healthy answer after {service.start_timeout:.0f} s (last: {last_error}); "
                "the process is left running for inspection, `devstack/stack down` stops it"
            )
        if now >= next_report:
            say(f"{service.name}: starting, {now - started:.0f} s ({last_error})")
            next_report = now + 15
        time.sleep(0.5)


def _refuse_busy_ports(service: Service) -> None:
    busy = service.busy_ports()
    if busy:
        raise _Refused(
            f"port {', '.join(map(str, busy))} already in use by a process this stack did not "
            "start (another stack, or a server of your own?); stop it or choose other ports "
            "with the KFLOW_*_PORT variables"
        )


def _bring_up(service: Service, layout: Layout) -> Outcome:
    started = time.monotonic()
    log_hint = service.log
    try:
        pid = procs.running_pid(service.pidfile, service.marker)
        ports_file = service.pidfile.with_suffix(".ports")
        wanted_ports = " ".join(map(str, service.all_ports))
        if pid is not None:
            recorded = ports_file.read_text().strip() if ports_file.exists() else wanted_ports
            if recorded != wanted_ports:
                raise _Refused(
                    f"pid {pid} runs with ports {recorded}, but {wanted_ports} were asked for; "
                    f"run `devstack/stack down {service.name}` first"
                )
            try:
                detail = service.probe(timeout=3.0)
                return Outcome(service, True, f"already running, {detail}", 0.0, log_hint)
            except ProbeError:
                say(f"{service.name}: pid {pid} is running but not answering yet; waiting")
                detail = _wait_ready(service, None, time.monotonic())
                return Outcome(service, True, detail, time.monotonic() - started, log_hint)
        left = procs.leftovers(service.pidfile, service.marker)
        if left:
            say(f"{service.name}: stopping pids {left} left by an earlier run, then starting")
            service.stop()
        _refuse_busy_ports(service)
        log_hint = layout.build_log("packages" if service.packages else service.name)
        service.build(say)
        log_hint = service.log
        with procs.port_locks(service.all_ports):
            _refuse_busy_ports(service)  # again: another stack may have started meanwhile
            command = service.command(say)
            proc = procs.start(
                command,
                service.log,
                service.pidfile,
                service.environment(),
                layout.root,
                service.run_user(),
            )
            ports_file.write_text(wanted_ports + "\n")
            say(f"{service.name}: started pid {proc.pid}, waiting for it to answer")
            detail = _wait_ready(service, proc, time.monotonic())
            service.after_ready(say)
        return Outcome(service, True, detail, time.monotonic() - started, log_hint)
    except _Refused as exc:
        return Outcome(service, False, str(exc), 0.0, None, show_log=False)
    except (ServiceError, BuildError, OSError) as exc:
        return Outcome(service, False, str(exc), time.monotonic() - started, log_hint)
    except Exception as exc:  # a bug here must still end in a report, not a dead thread
        detail = f"{type(exc).__name__}: {exc}"
        return Outcome(service, False, detail, time.monotonic() - started, log_hint)


def _selected(layout: Layout, names: Sequence[str], with_secure: bool = False) -> list[Service]:
    """The services named (``secure`` names the secured profile's); none named: the default
    ones, and those of the secured profile too if ``with_secure`` (a bare ``down``)."""
    ports = Ports.from_env()
    services = all_services(layout, ports)
    secured = secure_services(layout, ports)
    if not names:
        return services + secured if with_secure else services
    known = {service.name: service for service in services + secured}
    wanted: list[str] = []
    for name in names:
        wanted.extend([s.name for s in secured] if name == PROFILE else [name])
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SystemExit(
            f"unknown service {', '.join(unknown)}; known: {', '.join(known)} "
            f"(and {PROFILE}, the secured profile)"
        )
    return [known[name] for name in dict.fromkeys(wanted)]


def _parallel(services: Sequence[Service], work: Callable[[Service], Outcome]) -> list[Outcome]:
    results: dict[str, Outcome] = {}

    def run(service: Service) -> None:
        results[service.name] = work(service)

    threads = [threading.Thread(target=run, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[service.name] for service in services]


def cmd_up(layout: Layout, names: Sequence[str]) -> int:
    layout.make_dirs()
    services = _selected(layout, names)
    debian.plan([package for service in services for package in service.packages])
    say(f"devstack: bringing up {', '.join(s.name for s in services)} (state in {layout.root})")
    outcomes = _parallel(services, lambda service: _bring_up(service, layout))
    failed = [outcome for outcome in outcomes if not outcome.ok]
    for outcome in failed:
        say(f"\n{outcome.service.name}: FAILED: {outcome.detail}")
        log = outcome.log or outcome.service.log
        lines = procs.tail(log, 40) if outcome.show_log else []
        if lines:
            say(f"--- last lines of {layout.show(log)} ---")
            for line in lines:
                say(f"  {line}")
    say("")
    for outcome in outcomes:
        state = "up" if outcome.ok else "FAILED"
        took = "  ready" if outcome.ok and not outcome.seconds else f"{outcome.seconds:5.1f} s"
        detail = outcome.detail if outcome.ok else "see above"
        say(
            f"{outcome.service.name:<10} {state:<6} {outcome.service.address:<16} {took}  "
            f"log {layout.show(outcome.service.log)}  ({detail})"
        )
    return 1 if failed else 0


def cmd_down(layout: Layout, names: Sequence[str], wipe: bool) -> int:
    services = _selected(layout, names, with_secure=True)

    def stop(service: Service) -> Outcome:
        started = time.monotonic()
        pid = service.stop()
        service.pidfile.with_suffix(".ports").unlink(missing_ok=True)
        took = time.monotonic() - started
        detail = f"stopped pid {pid} ({took:.1f} s)" if pid else "was not running"
        return Outcome(service, True, detail, time.monotonic() - started)

    for outcome in _parallel(services, stop):
        say(f"{outcome.service.name:<10} {outcome.detail}")
    if wipe:
        for service in services:
            data = layout.data_dir(service.name)
            if data.exists():
                shutil.rmtree(data)
                say(f"{service.name:<10} deleted {layout.show(data)}")
    return 0


def cmd_restart(layout: Layout, names: Sequence[str]) -> int:
    """Stop the services (if running), then start them again on the same data."""
    cmd_down(layout, names, wipe=False)
    return cmd_up(layout, names)


def cmd_rabbitmqctl(layout: Layout, args: Sequence[str]) -> int:
    """``rabbitmqctl ARGS`` against the stack's node, with its cookie and epmd."""
    service = next(s for s in _selected(layout, ["rabbitmq"]) if isinstance(s, RabbitMQ))
    if procs.running_pid(service.pidfile, service.marker) is None:
        # rabbitmqctl would start an epmd of its own on the stack's port and leave it behind.
        say("rabbitmq is not running (devstack/stack up rabbitmq)")
        return 1
    command = service.ctl_command(list(args))
    os.execve(command[0], command, service.environment())


def cmd_status(layout: Layout, names: Sequence[str]) -> int:
    healthy = True
    for service in _selected(layout, names):
        pid = procs.running_pid(service.pidfile, service.marker)
        try:
            detail = service.probe(timeout=3.0)
            state = "healthy"
        except ProbeError as exc:
            healthy = False
            state = "unhealthy" if pid else "stopped"
            detail = str(exc)
        left = [] if pid else procs.leftovers(service.pidfile, service.marker)
        owner = f"pid {pid}" if pid else "not started by this stack"
        if left:
            owner = f"leftover pids {', '.join(map(str, left))}"
        say(f"{service.name:<10} {state:<9} {service.address:<16} {owner:<26} {detail}")
    return 0 if healthy else 1


def cmd_logs(layout: Layout, names: Sequence[str], follow: bool, lines: int) -> int:
    services = _selected(layout, names)
    files = [service.log for service in services]
    if follow:
        tail = shutil.which("tail")
        if tail is None:
            raise SystemExit("tail not found")
        os.execv(tail, [tail, "-n", str(lines), "-F", *map(str, files)])
    for service in services:
        if len(services) > 1:
            say(f"==> {layout.show(service.log)} <==")
        for line in procs.tail(service.log, lines):
            say(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack/stack",
        description="Run kflow's local Kafka, Cassandra, FerretDB (MongoDB wire protocol), "
        "RabbitMQ, Mosquitto, PostgreSQL, MariaDB, NATS (JetStream) and Redis on 127.0.0.1. "
        "State lives in .devstack/ (or $KFLOW_DEVSTACK_DIR). Every command takes service "
        "names (default: all).",
    )
    names = "kafka, cassandra, mongo, rabbitmq, mosquitto, postgres, mariadb, nats, redis"
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="obtain, start and wait for the services")
    up.add_argument("services", nargs="*", help=f"only these ({names})")
    profile_help = (
        "the secured profile's servers (TLS, SASL, passwords; see devstack/README.md), "
        "besides any services named"
    )
    up.add_argument("--profile", choices=[PROFILE], action="append", help=profile_help)
    down = commands.add_parser("down", help="stop the services this stack started")
    down.add_argument("services", nargs="*", help=f"only these ({names})")
    down.add_argument("--wipe", action="store_true", help="also delete their data")
    status = commands.add_parser("status", help="probe each service; exit 1 unless all healthy")
    status.add_argument("services", nargs="*", help=f"only these ({names})")
    status.add_argument("--profile", choices=[PROFILE], action="append", help=profile_help)
    logs = commands.add_parser("logs", help="print (or follow) service logs")
    logs.add_argument("services", nargs="*", help=f"only these ({names})")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=100, help="lines of each log (100)")
    restart = commands.add_parser("restart", help="stop, then start again (data kept)")
    restart.add_argument("services", nargs="+", help=names)
    ctl = commands.add_parser(
        "rabbitmqctl", help="run rabbitmqctl against the stack's RabbitMQ node", add_help=False
    )
    ctl.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if getattr(args, "profile", None):
        args.services = [*args.services, *args.profile]

    layout = Layout.from_env()
    try:
        if args.command == "up":
            return cmd_up(layout, args.services)
        if args.command == "down":
            return cmd_down(layout, args.services, args.wipe)
        if args.command == "restart":
            return cmd_restart(layout, args.services)
        if args.command == "rabbitmqctl":
            return cmd_rabbitmqctl(layout, args.args)
        if args.command == "status":
            return cmd_status(layout, args.services)
        return cmd_logs(layout, args.services, args.follow, args.lines)
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
