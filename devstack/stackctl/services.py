"""The services of the stack: how each is obtained, configured, started and probed.

To add a service, subclass ``Service`` and list it in ``all_services``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
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


def _kafka_cluster_id() -> str:
    """A random cluster id as Kafka makes one: URL-safe Base64 of 16 bytes, never starting
    with ``-`` (the storage tool would read such an id as an option; Kafka's own
    ``Uuid.randomUuid`` draws again for the same reason)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class Service:
    """One server process run by the stack."""

    name = ""
    start_timeout = 120.0
    stop_timeout = 30.0
    packages: tuple[debian.Package, ...] = ()
    """Debian packages providing the server's programs; ``build`` installs the missing ones."""
    system_user = ""
    """For servers that refuse to run as root (PostgreSQL, MariaDB): when the stack runs as
    root, the server runs as this Debian system user, which owns its data directory."""
    stop_signal = signal.SIGTERM
    """What asks the server for a clean shutdown."""

    def __init__(self, layout: Layout, ports: Ports) -> None:
        self.layout = self._reachable(layout)
        self.ports = ports

    def _reachable(self, layout: Layout) -> Layout:
        """``layout``, or, when the server runs as a system user that cannot enter the state
        directory (a clone under root's 0700 home), a state directory of its own under the
        temporary directory, named after the real one so every command finds it."""
        if not self.system_user or os.geteuid() != 0:
            return layout
        try:
            entry = pwd.getpwnam(self.system_user)
        except KeyError:
            return layout  # run_user() says what is missing
        if _reaches(entry, layout.root):
            return layout
        digest = hashlib.sha256(str(layout.root).encode()).hexdigest()[:10]
        moved = Layout(root=Path(tempfile.gettempdir()) / f"kflow-devstack-{digest}")
        moved.make_dirs()
        for path in (moved.root, *moved.root.iterdir()):
            path.chmod(0o755)
        return moved

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
    def init_log(self) -> Path:
        """Output of the steps that make a new data directory (initdb and the like)."""
        return self.layout.log(f"{self.name}-init")

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
        return procs.stop(self.pidfile, self.marker, self.stop_timeout, self.stop_signal)

    def run_user(self) -> str | None:
        """The system user the server runs as, or None for the stack's own user."""
        if not self.system_user or os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(self.system_user)
        except KeyError:
            raise ServiceError(
                f"{self.name} refuses to run as root and there is no {self.system_user} user "
                "(its Debian package makes it); run the stack as an unprivileged user"
            ) from None
        return self.system_user

    def command(self, say: Say) -> list[str]:
        """Write configuration, prepare data, and return the command that runs the server."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def probe(self, timeout: float = 5.0) -> str:
        """Send a real client request; return a short description or raise ProbeError."""
        raise NotImplementedError

    def after_ready(self, say: Say) -> None:
        """Run once the server started by ``up`` answers (users, permissions); ServiceError."""


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
            cluster_id = _kafka_cluster_id()
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


def _reaches(entry: pwd.struct_passwd, path: Path) -> bool:
    """True when the user of ``entry`` may enter every directory above ``path``."""
    for parent in path.resolve().parents:
        info = parent.stat()
        if not (
            info.st_mode & stat.S_IXOTH
            or (info.st_uid == entry.pw_uid and info.st_mode & stat.S_IXUSR)
            or (info.st_gid == entry.pw_gid and info.st_mode & stat.S_IXGRP)
        ):
            return False
    return True


def _check_reachable(user: str, path: Path) -> None:
    """ServiceError unless ``user`` may enter every directory above ``path``."""
    if not _reaches(pwd.getpwnam(user), path):
        raise ServiceError(
            f"the server runs as {user} (it refuses root), which cannot reach {path}: "
            "set KFLOW_DEVSTACK_DIR to a directory it can reach"
        )


def _give_to(user: str | None, *paths: Path) -> None:
    """Make ``paths`` (recursively) ``user``'s, having checked it can reach them."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for path in paths:
        _check_reachable(user, path)
        os.lchown(path, entry.pw_uid, entry.pw_gid)
        for root, dirs, files in os.walk(path):
            for name in [root, *(os.path.join(root, item) for item in dirs + files)]:
                os.lchown(name, entry.pw_uid, entry.pw_gid)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _check_owner(path: Path, user: str | None) -> None:
    """A data directory is used only by the user it belongs to (PostgreSQL insists)."""
    uid = pwd.getpwnam(user).pw_uid if user else os.geteuid()
    owner = path.stat().st_uid
    if owner != uid:
        raise ServiceError(
            f"{path} belongs to {_user_name(owner)}, but the server would run as "
            f"{_user_name(uid)} (as root the stack runs it as its system user, otherwise as "
            "you): `chown -R` it, or `devstack/stack down --wipe` to start afresh"
        )


def _run_step(
    what: str, command: list[str], log: Path, user: str | None, cwd: Path, stdin: str = ""
) -> str:
    """Run a preparation step (initdb, mariadb-install-db) as ``user``, its output appended to
    ``log``; ServiceError with the output's end if it fails."""
    entry = pwd.getpwnam(user) if user is not None else None
    result = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=300,
        user=entry.pw_uid if entry else None,
        group=entry.pw_gid if entry else None,
        extra_groups=[] if entry else None,
    )
    output = result.stdout + result.stderr
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n{output}\n")
    if result.returncode != 0:
        raise ServiceError(f"{what} failed (exit {result.returncode}):\n{output[-3000:]}")
    return output


def _processes_in(directory: Path) -> set[int]:
    """Pids whose working directory is ``directory`` (the ones this user may look at)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == directory:
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def _fresh_dir(path: Path, user: str | None) -> Path:
    """An empty directory (what an interrupted earlier attempt left is removed), ``user``'s."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700, parents=True)
    _give_to(user, path)
    return path


class Postgres(Service):
    """PostgreSQL 15 (Debian's ``postgresql-15``), one cluster with ``wal_level=logical``.

    The first start runs initdb into a scratch directory (``data/.initdb-postgres``) with
    ``kflow`` (password ``kflow``) as the bootstrap superuser, so it has SUPERUSER,
    REPLICATION and LOGIN, creates the
    ``kflow`` database in single-user mode, and only then moves the directory into place:
    a data directory exists only once it is complete. PostgreSQL refuses to run as root; as
    root the stack runs it (and initdb) as the ``postgres`` system user.
    """

    name = "postgres"
    start_timeout = 60.0
    stop_timeout = 60.0
    packages = (debian.POSTGRES,)
    system_user = "postgres"
    stop_signal = signal.SIGINT  # fast shutdown: ends sessions, checkpoints, keeps slots
    user = "kflow"
    password = "kflow"
    database = "kflow"

    @property
    def port(self) -> int:
        return self.ports.postgres

    @property
    def bin(self) -> Path:
        return Path(debian.POSTGRES.program).parent

    @property
    def config(self) -> Path:
        return self.layout.conf / "postgresql.conf"

    @property
    def socket_dir(self) -> Path:
        """Where the server puts its Unix socket (``psql -h`` this directory)."""
        return self.layout.run / "postgres"

    @property
    def marker(self) -> str:
        return f"config_file={self.config}"

    def _initdb(self, data: Path, user: str | None, say: Say) -> None:
        say(f"postgres: initdb into {data} (first start)")
        fresh = _fresh_dir(data.with_name(".initdb-postgres"), user)
        pwfile = self.layout.tmp / "postgres.pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        _give_to(user, pwfile)
        try:
            _run_step(
                "initdb",
                [
                    str(self.bin / "initdb"),
                    "--pgdata",
                    str(fresh),
                    "--username",
                    self.user,
                    "--pwfile",
                    str(pwfile),
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ],
                self.init_log,
                user,
                fresh,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        # Single-user mode: no listener, no password; one statement per line.
        output = _run_step(
            "creating the kflow database",
            [str(self.bin / "postgres"), "--single", "-D", str(fresh), "postgres"],
            self.init_log,
            user,
            fresh,
            stdin=f"CREATE DATABASE {self.database} OWNER {self.user}\n",
        )
        if "ERROR:" in output:
            raise ServiceError(f"creating the kflow database failed:\n{output[-2000:]}")
        fresh.rename(data)

    def command(self, say: Say) -> list[str]:
        data = self.layout.data_dir(self.name)
        user = self.run_user()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.chmod(0o755)
        _give_to(user, self.socket_dir)
        hba = _render("pg_hba.conf", self.layout.conf / "pg_hba.conf")
        _render(
            "postgresql.conf",
            self.config,
            port=self.port,
            socket_dir=self.socket_dir,
            hba_file=hba,
        )
        for path in (hba, self.config):
            path.chmod(0o644)
        if user is not None:
            _check_reachable(user, self.config)
        if data.exists() and not (data / "PG_VERSION").exists():
            if any(data.iterdir()):
                raise ServiceError(f"{data} is not a PostgreSQL data directory; move it away")
            data.rmdir()
        if not data.exists():
            self._initdb(data, user, say)
        _check_owner(data, user)
        self._wait_for_old_processes(data, say)
        return [str(self.bin / "postgres"), "-D", str(data), "-c", self.marker]

    def _wait_for_old_processes(self, data: Path, say: Say, timeout: float = 15.0) -> None:
        """After a ``kill -9``, wait until the old postmaster is gone (its pid, recorded in
        ``postmaster.pid``, reaped) and its children have left (each one's working directory
        is the data directory): until then PostgreSQL refuses to start on it."""
        deadline = time.monotonic() + timeout
        said = False
        while True:
            old = _processes_in(data)
            try:
                recorded = int((data / "postmaster.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                recorded = 0
            if recorded and Path(f"/proc/{recorded}").exists():
                old.add(recorded)
            if not old:
                return
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"pids {', '.join(map(str, sorted(old)))} still run in {data} (a server "
                    "this stack did not start, or the remains of a killed one); stop them first"
                )
            if not said:
                say(f"postgres: waiting for the old server's pids {sorted(old)} to exit")
                said = True
            time.sleep(0.2)

    def probe(self, timeout: float = 5.0) -> str:
        return probes.postgres(HOST, self.port, timeout, self.user, self.password, self.database)


class MariaDB(Service):
    """MariaDB 10.11 (Debian's ``mariadb-server``) with a ROW binary log, GTIDs, server id 1.

    ``--no-defaults``: nothing of ``/etc/mysql`` is read, every setting is on the command
    line. The first start runs mariadb-install-db into a scratch directory
    (``data/.install-mariadb``) with an extra SQL
    file that creates ``kflow``@``%`` (password ``kflow``, ALL PRIVILEGES ON *.* WITH GRANT
    OPTION, which includes REPLICATION SLAVE, REPLICATION CLIENT and BINLOG MONITOR) and the
    ``kflow`` database, then moves it into place. As root, the server runs as the ``mysql``
    system user.
    """

    name = "mariadb"
    start_timeout = 60.0
    stop_timeout = 60.0
    packages = (debian.MARIADB,)
    system_user = "mysql"
    user = "kflow"
    password = "kflow"
    database = "kflow"

    @property
    def port(self) -> int:
        return self.ports.mysql

    @property
    def data(self) -> Path:
        return self.layout.data_dir(self.name)

    @property
    def socket_dir(self) -> Path:
        return self.layout.run / "mariadb"

    @property
    def socket(self) -> Path:
        """The server's Unix socket (``mariadb -S`` this file)."""
        return self.socket_dir / "mariadbd.sock"

    @property
    def marker(self) -> str:
        return f"--datadir={self.data}"

    def _settings(self) -> list[str]:
        """Options shared by the install step and the server (charset as Debian sets it)."""
        return [
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci",
            "--skip-name-resolve",
        ]

    def _install(self, user: str | None, say: Say) -> None:
        say(f"mariadb: mariadb-install-db into {self.data} (first start)")
        # Not a name that starts with the data dir's: that is the server's marker.
        fresh = _fresh_dir(self.data.with_name(".install-mariadb"), user)
        grants = self.layout.tmp / "mariadb-init.sql"
        grants.write_text(
            # The install step runs with --skip-grant-tables; this loads them for what follows.
            "FLUSH PRIVILEGES;\n"
            f"CREATE USER IF NOT EXISTS '{self.user}'@'%' IDENTIFIED BY '{self.password}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{self.user}'@'%' WITH GRANT OPTION;\n"
            f"CREATE DATABASE IF NOT EXISTS {self.database} CHARACTER SET utf8mb4;\n"
            # Anonymous accounts would match 'localhost' before kflow@'%' does.
            "DELETE FROM mysql.global_priv WHERE User = '';\n"
            # Entries for this machine's host name, which --skip-name-resolve ignores (noisily).
            "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '%');\n"
            "FLUSH PRIVILEGES;\n"
        )
        grants.chmod(0o644)
        install = Path(debian.MARIADB.program).parent.parent / "bin" / "mariadb-install-db"
        # As root the script itself switches to --user; so it runs as root here.
        _run_step(
            "mariadb-install-db",
            [
                str(install),
                "--no-defaults",
                f"--datadir={fresh}",
                *([f"--user={user}"] if user else []),
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                f"--extra-file={grants}",
                *self._settings(),
            ],
            self.init_log,
            None,
            self.layout.tmp,
        )
        grants.unlink(missing_ok=True)
        fresh.rename(self.data)

    def command(self, say: Say) -> list[str]:
        user = self.run_user()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.chmod(0o755)
        _give_to(user, self.socket_dir)
        if self.data.exists() and not (self.data / "mysql").is_dir():
            if any(self.data.iterdir()):
                raise ServiceError(f"{self.data} is not a MariaDB data directory; move it away")
            self.data.rmdir()
        if not self.data.exists():
            self._install(user, say)
        _check_owner(self.data, user)
        return [
            debian.MARIADB.program,
            "--no-defaults",
            self.marker,
            f"--port={self.port}",
            f"--bind-address={HOST}",
            f"--socket={self.socket}",
            f"--pid-file={self.socket_dir / 'mariadbd.pid'}",
            *self._settings(),
            "--log-bin=mariadb-bin",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--server-id=1",
            "--binlog-expire-logs-seconds=604800",
            "--innodb-buffer-pool-size=128M",
        ]

    def probe(self, timeout: float = 5.0) -> str:
        return probes.mysql(HOST, self.port, timeout, self.user, self.password, self.database)


class Nats(Service):
    """nats-server (Debian's ``nats-server``) with JetStream, its store in the data dir."""

    name = "nats"
    start_timeout = 30.0
    stop_timeout = 30.0
    packages = (debian.NATS,)
    stop_signal = signal.SIGINT  # as the package's unit does; flushes the JetStream store

    @property
    def port(self) -> int:
        return self.ports.nats

    @property
    def marker(self) -> str:
        return f"-sd {self.layout.data_dir(self.name)}"

    def command(self, say: Say) -> list[str]:
        data = self.layout.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        return [
            debian.NATS.program,
            "-a",
            HOST,
            "-p",
            str(self.port),
            "-n",
            "kflow-devstack",
            "-js",
            *self.marker.split(" ", 1),
        ]

    def probe(self, timeout: float = 5.0) -> str:
        return probes.nats(HOST, self.port, timeout)


class Redis(Service):
    """redis-server 7 (Debian's ``redis-server``), append-only file fsynced on every write."""

    name = "redis"
    start_timeout = 30.0
    stop_timeout = 30.0
    packages = (debian.REDIS,)

    @property
    def port(self) -> int:
        return self.ports.redis

    @property
    def config(self) -> Path:
        return self.layout.conf / "redis.conf"

    @property
    def marker(self) -> str:
        return str(self.config)

    def command(self, say: Say) -> list[str]:
        data = self.layout.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        _render("redis.conf", self.config, port=self.port, data_dir=data)
        return [debian.REDIS.program, str(self.config)]

    def probe(self, timeout: float = 5.0) -> str:
        return probes.redis(HOST, self.port, timeout)


def all_services(layout: Layout, ports: Ports) -> list[Service]:
    return [
        Kafka(layout, ports),
        Cassandra(layout, ports),
        Mongo(layout, ports),
        RabbitMQ(layout, ports),
        Mosquitto(layout, ports),
        Postgres(layout, ports),
        MariaDB(layout, ports),
        Nats(layout, ports),
        Redis(layout, ports),
    ]
