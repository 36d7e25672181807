"""The services of the stack: how each is obtained, configured, started and probed.

To add a service, subclass ``Service`` and list it in ``all_services``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from string import Template

from . import builds, debian, probes, procs
from .builds import Say
from .probes import ProbeError
from .settings import HOST, SOURCE_DIR, Layout, Ports

JAVA_RELEASE = "17"


class ServiceError(Exception):
    """A service could not be prepared or started."""


def find_java_home() -> Path:
    """A Java 17 home: ``$KFLOW_JAVA_HOME``, ``$JAVA_HOME``, or Debian's usual place."""
    candidates = [os.environ.get("KFLOW_JAVA_HOME", ""), os.environ.get("JAVA_HOME", "")]
    candidates.append("/usr/lib/jvm/java-17-openjdk-amd64")
    candidates.append("/usr/lib/jvm/java-17-openjdk-arm64")
    java = shutil.which("java")
    if java:
        candidates.append(str(Path(java).resolve().parent.parent))
    for raw in candidates:
        if not raw:
            continue
        home = Path(raw)
        try:
            release = (home / "release").read_text()
        except OSError:
            continue
        for line in release.splitlines():
            if line.startswith("JAVA_VERSION="):
                version = line.split("=", 1)[1].strip('"')
                if version.split(".")[0] == JAVA_RELEASE and (home / "bin" / "java").exists():
                    return home
    raise ServiceError(
        "Java 17 not found: install openjdk-17-jdk-headless or set KFLOW_JAVA_HOME "
        "(Cassandra 5.0 runs on Java 17, not newer)"
    )


def _render(template: str, target: Path, **values: object) -> Path:
    text = Template((SOURCE_DIR / "conf" / template).read_text()).substitute(
        {key: str(value) for key, value in values.items()}
    )
    target.write_text(text)
    return target


class Service:
    """One server process run by the stack."""

    name = ""
    start_timeout = 120.0
    stop_timeout = 30.0
    packages: tuple[debian.Package, ...] = ()
    """Debian packages providing the server's programs; ``build`` installs the missing ones."""

    def __init__(self, layout: Layout, ports: Ports) -> None:
        self.layout = layout
        self.ports = ports

    @property
    def port(self) -> int:
        raise NotImplementedError

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def all_ports(self) -> list[int]:
        """Every port the server binds (client port first)."""
        return [self.port]

    @property
    def log(self) -> Path:
        return self.layout.log(self.name)

    @property
    def pidfile(self) -> Path:
        return self.layout.pidfile(self.name)

    @property
    def marker(self) -> str:
        """A string found in the command line of this service's process and no other's."""
        return str(self.layout.root)

    def build(self, say: Say) -> None:
        """Obtain the service's code (idempotent and quick once done)."""
        if self.packages:
            debian.ensure(self.packages, self.layout.build_log("packages"), say)

    def busy_ports(self) -> list[int]:
        """The ports the server needs that some process not run by this service holds."""
        return [port for port in self.all_ports if not procs.port_is_free(HOST, port)]

    def stop(self) -> int | None:
        """Stop what ``up`` started for this service; the pid stopped, or None."""
        return procs.stop(self.pidfile, self.marker, self.stop_timeout)

    def command(self, say: Say) -> list[str]:
        """Write configuration, prepare data, and return the command that runs the server."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def probe(self, timeout: float = 5.0) -> str:
        """Send a real client request; return a short description or raise ProbeError."""
        raise NotImplementedError


class Kafka(Service):
    """Apache Kafka, single-node KRaft (broker and controller in one JVM)."""

    name = "kafka"
    start_timeout = 120.0

    @property
    def port(self) -> int:
        return self.ports.kafka

    @property
    def all_ports(self) -> list[int]:
        return [self.ports.kafka, self.ports.kafka_controller]

    @property
    def marker(self) -> str:
        return str(self.layout.conf / "kafka-server.properties")

    def build(self, say: Say) -> None:
        builds.maven_jars(
            self.name, self.layout.lib(self.name), self.layout.build_log(self.name), say
        )

    def _java(self, main: str, args: list[str], jvm: list[str]) -> list[str]:
        java = find_java_home() / "bin" / "java"
        log4j = SOURCE_DIR / "conf" / "kafka-log4j2.xml"
        return [
            str(java),
            *jvm,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile=file:{log4j}",
            f"-Djava.io.tmpdir={self.layout.tmp}",
            "-cp",
            f"{self.layout.lib(self.name)}/*",
            main,
            *args,
        ]

    def command(self, say: Say) -> list[str]:
        data = self.layout.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        properties = _render(
            "kafka-server.properties",
            self.layout.conf / "kafka-server.properties",
            port=self.ports.kafka,
            controller_port=self.ports.kafka_controller,
            data_dir=data,
        )
        if not (data / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            say(f"kafka: formatting storage in {data} (cluster id {cluster_id})")
            format_cmd = self._java(
                "kafka.tools.StorageTool",
                ["format", "-t", cluster_id, "-c", str(properties)],
                ["-Xmx128m", "-XX:TieredStopAtLevel=1"],
            )
            result = subprocess.run(format_cmd, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise ServiceError(
                    "kafka storage format failed:\n" + (result.stdout + result.stderr)[-3000:]
                )
        heap = os.environ.get("KFLOW_KAFKA_HEAP", "512m")
        jvm = [
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
        ]
        return self._java("kafka.Kafka", [str(properties)], jvm)

    def probe(self, timeout: float = 5.0) -> str:
        return probes.kafka(HOST, self.port, timeout)


# Module access Cassandra 5.0 needs on Java 17 (from its conf/jvm17-server.options).
_CASSANDRA_JPMS = [
    *(
        f"--add-exports={item}=ALL-UNNAMED"
        for item in (
            "java.base/jdk.internal.misc",
            "java.management.rmi/com.sun.jmx.remote.internal.rmi",
            "java.rmi/sun.rmi.registry",
            "java.rmi/sun.rmi.server",
            "java.sql/java.sql",
            "java.base/java.lang.ref",
            "jdk.unsupported/sun.misc",
            "jdk.compiler/com.sun.tools.javac.file",
            "jdk.attach/sun.tools.attach",
        )
    ),
    *(
        f"--add-opens={item}=ALL-UNNAMED"
        for item in (
            "java.base/java.lang.module",
            "java.base/jdk.internal.loader",
            "java.base/jdk.internal.ref",
            "java.base/jdk.internal.reflect",
            "java.base/jdk.internal.math",
            "java.base/jdk.internal.module",
            "java.base/jdk.internal.util.jar",
            "jdk.management/com.sun.management.internal",
            "java.base/sun.nio.ch",
            "java.base/java.io",
            "java.base/java.lang.reflect",
            "jdk.compiler/com.sun.tools.javac",
            "java.base/java.lang",
            "java.base/java.util",
        )
    ),
]


class Cassandra(Service):
    """Apache Cassandra, one node, datacenter ``datacenter1`` (SimpleSnitch)."""

    name = "cassandra"
    start_timeout = 300.0
    stop_timeout = 45.0

    @property
    def port(self) -> int:
        return self.ports.cassandra

    @property
    def all_ports(self) -> list[int]:
        return [self.ports.cassandra, self.ports.cassandra_storage]

    @property
    def marker(self) -> str:
        return str(self.layout.conf / "cassandra.yaml")

    def build(self, say: Say) -> None:
        builds.maven_jars(
            self.name, self.layout.lib(self.name), self.layout.build_log(self.name), say
        )

    def command(self, say: Say) -> list[str]:
        data = self.layout.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        config = _render(
            "cassandra.yaml",
            self.layout.conf / "cassandra.yaml",
            port=self.ports.cassandra,
            storage_port=self.ports.cassandra_storage,
            data_dir=data,
        )
        lib = self.layout.lib(self.name)
        jamm = sorted(lib.glob("jamm-*.jar"))
        if not jamm:
            raise ServiceError(f"no jamm jar in {lib}; delete {lib} and run up again")
        heap = os.environ.get("KFLOW_CASSANDRA_HEAP", "1G")
        java = find_java_home() / "bin" / "java"
        return [
            str(java),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-Xss256k",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=300",
            "-XX:+ParallelRefProcEnabled",
            "-XX:+PerfDisableSharedMem",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:CICompilerCount=2",
            *_CASSANDRA_JPMS,
            "-Djdk.attach.allowAttachSelf=true",
            "-Djava.net.preferIPv4Stack=true",
            "-Djava.awt.headless=true",
            "-Dio.netty.tryReflectionSetAccessible=true",
            f"-javaagent:{jamm[-1]}",
            f"-Dcassandra.config={config.as_uri()}",
            f"-Dcassandra.storagedir={data}",
            f"-Dcassandra.logdir={self.layout.logs}",
            "-Dcassandra-foreground=yes",
            f"-Dlogback.configurationFile={SOURCE_DIR / 'conf' / 'cassandra-logback.xml'}",
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.ring_delay_ms=1000",
            f"-Djna.tmpdir={self.layout.tmp}",
            f"-Djava.io.tmpdir={self.layout.tmp}",
            "-cp",
            f"{lib}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]

    def probe(self, timeout: float = 5.0) -> str:
        return probes.cassandra(HOST, self.port, timeout)


class Mongo(Service):
    """FerretDB (MongoDB wire protocol) on its SQLite backend."""

    name = "mongo"
    start_timeout = 60.0
    stop_timeout = 15.0

    @property
    def port(self) -> int:
        return self.ports.mongo

    @property
    def binary(self) -> Path:
        return self.layout.bin / "ferretdb-devstack"

    @property
    def marker(self) -> str:
        return str(self.binary)

    def build(self, say: Say) -> None:
        builds.go_binary(
            self.name,
            SOURCE_DIR / "ferretdb",
            self.binary,
            self.layout.build_log(self.name),
            say,
        )

    def command(self, say: Say) -> list[str]:
        data = self.layout.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        return [str(self.binary), "-listen", self.address, "-sqlite-dir", str(data)]

    def probe(self, timeout: float = 5.0) -> str:
        return probes.mongo(HOST, self.port, timeout)


class RabbitMQ(Service):
    """RabbitMQ (Debian's ``rabbitmq-server``), one node, AMQP 0-9-1 for guest/guest.

    Run from the package's programs as a process of the stack's own: not the Debian
    ``/usr/sbin`` wrapper (it switches to the ``rabbitmq`` user and its system state), but
    ``/usr/lib/rabbitmq/bin/rabbitmq-server``, a shell that runs ``beam.smp`` as its child and
    turns SIGTERM into a clean broker shutdown. Everything that would be system-wide is the
    stack's: node name (from the state directory's path), Erlang cookie (``HOME`` is the
    data dir), mnesia base, configuration, and an epmd of its own on a port of its own
    (started before the broker, stopped after it).
    """

    name = "rabbitmq"
    start_timeout = 90.0
    stop_timeout = 30.0
    packages = (debian.RABBITMQ,)

    @property
    def port(self) -> int:
        return self.ports.amqp

    @property
    def all_ports(self) -> list[int]:
        return [self.ports.amqp, self.ports.rabbitmq_dist, self.ports.rabbitmq_epmd]

    @property
    def config(self) -> Path:
        return self.layout.conf / "rabbitmq.conf"

    @property
    def marker(self) -> str:
        # Passed to the broker as an (ignored) Erlang flag, so it is in the command line of
        # both the wrapper shell and beam.smp.
        return str(self.config)

    @property
    def node(self) -> str:
        """``kflow-<hash of the state dir>@localhost``: one node name per stack directory."""
        digest = hashlib.sha256(str(self.layout.root).encode()).hexdigest()[:10]
        return f"kflow-{digest}@localhost"

    @property
    def home(self) -> Path:
        """HOME of the broker and of rabbitmqctl: the Erlang cookie lives here."""
        return self.layout.data_dir(self.name)

    @property
    def epmd_link(self) -> Path:
        """epmd is run through this link, so its command line names the state directory."""
        return self.layout.bin / "epmd"

    @property
    def epmd_pidfile(self) -> Path:
        return self.layout.pidfile("rabbitmq-epmd")

    @property
    def epmd_log(self) -> Path:
        return self.layout.log("rabbitmq-epmd")

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_EPMD_"))
        }
        conf = self.layout.conf
        data = self.layout.data_dir(self.name)
        use_loopback = "-kernel inet_dist_use_interface {127,0,0,1}"
        env.update(
            HOME=str(self.home),
            LANG=env.get("LANG") or "C.UTF-8",
            ERL_EPMD_PORT=str(self.ports.rabbitmq_epmd),
            ERL_EPMD_ADDRESS=HOST,
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_DIST_PORT=str(self.ports.rabbitmq_dist),
            RABBITMQ_CONFIG_FILE=str(self.config),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(conf / "rabbitmq-advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(conf / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(conf / "rabbitmq-enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(data / "mnesia"),
            RABBITMQ_LOG_BASE=str(data / "log"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=use_loopback,
            RABBITMQ_CTL_ERL_ARGS=use_loopback,
            ERL_CRASH_DUMP=str(self.layout.logs / "rabbitmq-erl_crash.dump"),
        )
        return env

    def _epmd_program(self) -> Path:
        for raw in (shutil.which("epmd"), "/usr/lib/erlang/bin/epmd", "/usr/bin/epmd"):
            if raw and Path(raw).exists():
                return Path(raw).resolve()
        raise ServiceError("epmd not found (erlang-base, a dependency of rabbitmq-server)")

    def _ensure_epmd(self, say: Say) -> None:
        pid = procs.running_pid(self.epmd_pidfile, str(self.epmd_link))
        want = f"-port {self.ports.rabbitmq_epmd} "
        if pid is not None:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if want in cmdline:
                return
            procs.stop(self.epmd_pidfile, str(self.epmd_link), 5)
        program = self._epmd_program()
        self.epmd_link.unlink(missing_ok=True)
        self.epmd_link.symlink_to(program)
        command = [str(self.epmd_link), *want.split(), "-address", HOST]
        proc = procs.start(
            command, self.epmd_log, self.epmd_pidfile, dict(os.environ), self.layout.root
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                probes.epmd_names(HOST, self.ports.rabbitmq_epmd)
                break
            except ProbeError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = " | ".join(procs.tail(self.epmd_log, 5))
                    raise ServiceError(f"epmd did not start ({exc}): {tail}") from exc
                time.sleep(0.1)
        say(f"rabbitmq: epmd pid {proc.pid} on {HOST}:{self.ports.rabbitmq_epmd}")

    def busy_ports(self) -> list[int]:
        ours = procs.running_pid(self.epmd_pidfile, str(self.epmd_link)) is not None
        busy = super().busy_ports()
        return [p for p in busy if not (ours and p == self.ports.rabbitmq_epmd)]

    def command(self, say: Say) -> list[str]:
        for path in (self.home, self.layout.data_dir(self.name) / "mnesia"):
            path.mkdir(parents=True, exist_ok=True)
        _render("rabbitmq.conf", self.config, amqp_port=self.ports.amqp)
        conf = self.layout.conf
        (conf / "rabbitmq-enabled_plugins").write_text("[].\n")
        (conf / "rabbitmq-env.conf").write_text(
            "# Empty on purpose: devstack/stack sets the environment; the system's\n"
            "# /etc/rabbitmq/rabbitmq-env.conf is not read.\n"
        )
        self._ensure_epmd(say)
        return [debian.RABBITMQ.program, "-kflow_devstack", self.marker]

    def stop(self) -> int | None:
        pid = procs.stop(self.pidfile, self.marker, self.stop_timeout)
        procs.stop(self.epmd_pidfile, str(self.epmd_link), 5)
        return pid

    def ctl_command(self, args: list[str]) -> list[str]:
        """``rabbitmqctl`` aimed at this node, with its cookie (run with ``environment()``)."""
        ctl = Path(debian.RABBITMQ.program).with_name("rabbitmqctl")
        return [str(ctl), "-n", self.node, *args]

    def probe(self, timeout: float = 5.0) -> str:
        return probes.amqp(HOST, self.port, timeout)


class Mosquitto(Service):
    """Eclipse Mosquitto (Debian's ``mosquitto``): MQTT 3.1.1/5, anonymous, persistent."""

    name = "mosquitto"
    start_timeout = 30.0
    stop_timeout = 15.0
    packages = (debian.MOSQUITTO,)
    autosave_seconds = 5

    @property
    def port(self) -> int:
        return self.ports.mqtt

    @property
    def config(self) -> Path:
        return self.layout.conf / "mosquitto.conf"

    @property
    def marker(self) -> str:
        return str(self.config)

    def command(self, say: Say) -> list[str]:
        data = self.layout.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        _render(
            "mosquitto.conf",
            self.config,
            mqtt_port=self.ports.mqtt,
            data_dir=data,
            autosave=self.autosave_seconds,
            user=pwd.getpwuid(os.geteuid()).pw_name,
            log_file=self.log,
        )
        return [debian.MOSQUITTO.program, "-c", str(self.config)]

    def probe(self, timeout: float = 5.0) -> str:
        return probes.mqtt(HOST, self.port, timeout)


def all_services(layout: Layout, ports: Ports) -> list[Service]:
    return [
        Kafka(layout, ports),
        Cassandra(layout, ports),
        Mongo(layout, ports),
        RabbitMQ(layout, ports),
        Mosquitto(layout, ports),
    ]
