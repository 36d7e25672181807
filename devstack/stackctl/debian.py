"""Debian packages of the stack (RabbitMQ, Mosquitto, PostgreSQL, MariaDB, nats-server,
Redis): installed by ``up`` only when missing.

The packages are used for their programs only: the stack runs them as its own processes,
with their state under the state directory. A package's own system service must not run
(it would hold the ports, and Debian's RabbitMQ would start a second epmd; PostgreSQL's
would start the ``15/main`` cluster the package creates on 5432), so:

- ``apt-get install`` runs with a ``/usr/sbin/policy-rc.d`` that refuses every start (written
  for the install and removed afterwards, unless the machine already has one: Docker images
  and CI runners often do, and it is left as it is);
- on a machine booted with systemd, the units the install enabled are disabled and stopped
  (``systemctl disable --now``), so they do not start at the next boot either.

Nothing is installed when the programs are already there, and nothing is ever removed.
Without root, ``up`` says what to install instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .builds import BuildError, Say, _run_logged


@dataclass(frozen=True)
class Package:
    """A Debian package, the program that shows it is installed, and the system units it
    enables on install (disabled again by the stack)."""

    name: str
    program: str
    units: tuple[str, ...] = ()

    def installed(self) -> bool:
        return Path(self.program).is_file() and os.access(self.program, os.X_OK)


RABBITMQ = Package(
    "rabbitmq-server",
    "/usr/lib/rabbitmq/bin/rabbitmq-server",
    ("rabbitmq-server.service", "epmd.service", "epmd.socket"),
)
MOSQUITTO = Package("mosquitto", "/usr/sbin/mosquitto", ("mosquitto.service",))
POSTGRES = Package("postgresql-15", "/usr/lib/postgresql/15/bin/postgres", ("postgresql.service",))
MARIADB = Package("mariadb-server", "/usr/sbin/mariadbd", ("mariadb.service",))
NATS = Package("nats-server", "/usr/sbin/nats-server", ("nats-server.service",))
REDIS = Package("redis-server", "/usr/bin/redis-server", ("redis-server.service",))

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
_POLICY_TEXT = """#!/bin/sh
# Written by kflow's devstack/stack for the length of an apt-get install, so that packages
# installed for their programs do not start their system services; removed afterwards.
exit 101
"""

_thread_lock = threading.Lock()
_planned: list[Package] = []
_failed: dict[tuple[str, ...], BuildError] = {}


def plan(packages: Sequence[Package]) -> None:
    """Packages this run will need: the first ``ensure`` installs them all in one apt-get."""
    _planned.extend(packages)


def _missing(packages: Sequence[Package]) -> list[Package]:
    seen: dict[str, Package] = {}
    for package in packages:
        if not package.installed():
            seen.setdefault(package.name, package)
    return list(seen.values())


def install_hint(missing: Sequence[Package]) -> str:
    names = " ".join(package.name for package in missing)
    units = " ".join(unit for package in missing for unit in package.units)
    return (
        f"{names} not installed ({', '.join(p.program for p in missing)} missing). Install as "
        f"root: `sudo apt-get update && sudo apt-get install -y {names}`, then keep their system "
        f"services from holding the ports: `sudo systemctl disable --now {units}` (or run "
        "`sudo devstack/stack up` once, which does both)"
    )


def _unit_exists(unit: str) -> bool:
    return any(
        (Path(root) / unit).exists()
        for root in ("/lib/systemd/system", "/usr/lib/systemd/system", "/etc/systemd/system")
    )


def _disable_units(packages: Sequence[Package], log: Path, say: Say) -> None:
    systemctl = shutil.which("systemctl")
    units = [unit for package in packages for unit in package.units if _unit_exists(unit)]
    if systemctl is None or not units:
        return
    booted = Path("/run/systemd/system").is_dir()
    # Without a running systemd, `disable` still removes the enablement symlinks.
    done: list[str] = []
    failed: list[str] = []
    with log.open("a") as out:
        for unit in units:
            command = [systemctl, "disable", *(["--now"] if booted else []), "--quiet", unit]
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            result = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=120
            )
            (done if result.returncode == 0 else failed).append(unit)
    if done:
        say(f"packages: disabled the system units {', '.join(done)} (devstack runs its own)")
    if failed:
        say(f"packages: could not disable {', '.join(failed)} (see {log}); continuing")


def ensure(packages: Sequence[Package], log: Path, say: Say) -> None:
    """Install the packages whose programs are missing (root only), in one apt-get run.

    Safe to call from several threads and several ``up`` runs at once: the first installs,
    the others wait and then find everything installed.
    """
    if not _missing(packages):
        return
    with _thread_lock:
        wanted = _missing([*packages, *_planned])
        key = tuple(sorted(package.name for package in wanted))
        if key in _failed:  # another service of this run tried the same install already
            raise _failed[key]
        lock = Path(tempfile.gettempdir()) / "kflow-devstack-apt.lock"
        with lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                _install(_missing(wanted), log, say)
            except BuildError as exc:
                _failed[key] = exc
                raise
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        if _missing(packages):
            raise BuildError(install_hint(_missing(packages)))


def _install(missing: list[Package], log: Path, say: Say) -> None:
    if not missing:
        return
    if os.geteuid() != 0:
        raise BuildError(install_hint(missing))
    apt = shutil.which("apt-get")
    if apt is None:
        raise BuildError(
            f"{' '.join(p.name for p in missing)} not installed and apt-get not found: install "
            "them (RabbitMQ 3.10+, Mosquitto 2.0, PostgreSQL 15, MariaDB 10.11, nats-server "
            "2.9, Redis 7) with this system's package manager, with their system services "
            "disabled"
        )
    names = [package.name for package in missing]
    say(f"packages: installing {' '.join(names)} with apt-get (first run only; log {log})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", NEEDRESTART_MODE="l")
    log.parent.mkdir(parents=True, exist_ok=True)
    wrote_policy = False
    if not POLICY_RC_D.exists():
        POLICY_RC_D.write_text(_POLICY_TEXT)
        POLICY_RC_D.chmod(0o755)
        wrote_policy = True
    try:
        _run_logged([apt, "update", "-q"], Path("/"), log, say, "packages: apt-get update", env)
        saved = log.read_text(errors="replace")
        install = [
            apt,
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            *names,
        ]
        _run_logged(install, Path("/"), log, say, "packages: apt-get install", env)
        log.write_text(saved + log.read_text(errors="replace"))
    finally:
        if wrote_policy:
            POLICY_RC_D.unlink(missing_ok=True)
    _disable_units(missing, log, say)
    still = _missing(missing)
    if still:
        raise BuildError(
            f"apt-get install finished but {', '.join(p.program for p in still)} is missing; "
            f"see {log}"
        )
    say(f"packages: installed {' '.join(names)}")
