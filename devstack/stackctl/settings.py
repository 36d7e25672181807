"""Where the stack keeps its state and which ports its services listen on.

Everything the stack downloads, builds, writes or logs lives under one state directory:
``.devstack/`` at the repository root, or ``$KFLOW_DEVSTACK_DIR``. Ports come from the
``KFLOW_*_PORT`` environment variables, the same ones the integration tests read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent.parent
"""The ``devstack/`` folder of the repository (poms, configuration templates, Go sources)."""

REPO_DIR = SOURCE_DIR.parent

HOST = "127.0.0.1"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SystemExit(f"{name}={raw!r} is not a port number")
    return port


@dataclass(frozen=True)
class Ports:
    """TCP ports on 127.0.0.1, each overridable by the environment variable named beside it."""

    kafka: int  # KFLOW_KAFKA_PORT
    kafka_controller: int  # KFLOW_KAFKA_CONTROLLER_PORT
    cassandra: int  # KFLOW_CASSANDRA_PORT
    cassandra_storage: int  # KFLOW_CASSANDRA_STORAGE_PORT
    mongo: int  # KFLOW_MONGO_PORT
    amqp: int  # KFLOW_AMQP_PORT
    rabbitmq_dist: int  # KFLOW_RABBITMQ_DIST_PORT
    rabbitmq_epmd: int  # KFLOW_RABBITMQ_EPMD_PORT
    mqtt: int  # KFLOW_MQTT_PORT
    postgres: int  # KFLOW_POSTGRES_PORT
    mysql: int  # KFLOW_MYSQL_PORT
    nats: int  # KFLOW_NATS_PORT
    redis: int  # KFLOW_REDIS_PORT

    @classmethod
    def from_env(cls) -> Ports:
        return cls(
            kafka=_port("KFLOW_KAFKA_PORT", 9092),
            kafka_controller=_port("KFLOW_KAFKA_CONTROLLER_PORT", 9093),
            cassandra=_port("KFLOW_CASSANDRA_PORT", 9042),
            cassandra_storage=_port("KFLOW_CASSANDRA_STORAGE_PORT", 7000),
            mongo=_port("KFLOW_MONGO_PORT", 27017),
            amqp=_port("KFLOW_AMQP_PORT", 5672),
            rabbitmq_dist=_port("KFLOW_RABBITMQ_DIST_PORT", 25672),
            # Not epmd's usual 4369: the stack's own epmd, never shared with a system-wide
            # Erlang/RabbitMQ (Debian's erlang-base enables an epmd.socket on 4369).
            rabbitmq_epmd=_port("KFLOW_RABBITMQ_EPMD_PORT", 14369),
            mqtt=_port("KFLOW_MQTT_PORT", 1883),
            postgres=_port("KFLOW_POSTGRES_PORT", 5432),
            mysql=_port("KFLOW_MYSQL_PORT", 3306),
            nats=_port("KFLOW_NATS_PORT", 4222),
            redis=_port("KFLOW_REDIS_PORT", 6379),
        )


@dataclass(frozen=True)
class Layout:
    """Paths under the state directory."""

    root: Path

    @classmethod
    def from_env(cls) -> Layout:
        raw = os.environ.get("KFLOW_DEVSTACK_DIR", "").strip()
        root = Path(raw).expanduser() if raw else REPO_DIR / ".devstack"
        return cls(root=root.resolve())

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def lib(self, name: str) -> Path:
        """Jars copied by Maven for one service."""
        return self.root / "lib" / name

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def build_log(self, name: str) -> Path:
        return self.logs / f"build-{name}.log"

    def pidfile(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def data_dir(self, name: str) -> Path:
        return self.data / name

    def make_dirs(self) -> None:
        for path in (self.logs, self.run, self.conf, self.data, self.tmp, self.bin):
            path.mkdir(parents=True, exist_ok=True)

    def show(self, path: Path) -> str:
        """A path as short as it can be said: relative to the working directory if under it."""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
