"""The three services of the stack: how each is obtained, configured, started and probed.

To add a service, subclass ``Service`` and list it in ``all_services``.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from string import Template

from . import builds, probes
from .builds import Say
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


def all_services(layout: Layout, ports: Ports) -> list[Service]:
    return [Kafka(layout, ports), Cassandra(layout, ports), Mongo(layout, ports)]
