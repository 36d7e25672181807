"""The secured profile: servers with TLS, passwords and permissions, beside the plain ones.

``devstack/stack up --profile secure`` (or ``up kafka-secure``) starts them; a bare ``up``
does not. Each is a separate instance with its own ports, data directory, configuration and
log, so the plain servers that others use are never touched. What they share is made here
once per state directory and kept under ``data/secure/``:

- a CA (``ca.pem``) and a server certificate for ``localhost``/``127.0.0.1`` signed by it
  (``server.pem``, ``server.key``, ``server.p12``), made with ``openssl`` at the first start;
  the CA again as a JKS and a PKCS12 truststore (``truststore.jks``, ``truststore.p12``, made
  with ``keytool`` as a Java user would), and a second, unrelated CA (``other-ca.pem``,
  ``other-truststore.p12``) that a client can trust to be refused;
- ``profile.json`` (mode 0600): every address, user, password and file of the profile, which
  ``testkit/secure.py`` reads. Passwords are random, made once.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import secrets
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template
from typing import Any

from . import builds, debian, probes
from .builds import Say
from .services import (
    Cassandra,
    Kafka,
    Mosquitto,
    RabbitMQ,
    Service,
    ServiceError,
    _kafka_cluster_id,
    find_java_home,
)
from .settings import HOST, SOURCE_DIR, Layout, Ports, _port

PROFILE = "secure"
MONGO_DATABASE = "kestra"
MONGO_USER = "kflow"
SERVICE_USER = "kflow"
CASSANDRA_USER = "kflow"
"""The password user of the secured RabbitMQ and Mosquitto."""
CONF = SOURCE_DIR / "conf" / "secure"

# Kafka users: admin is the super user (SCRAM and PLAIN); alice (SCRAM-SHA-512) and bob
# (PLAIN) may use every topic and group; carol (SCRAM-SHA-512) may read topics but has no
# group ACL, so joining a consumer group is refused. The SSL listener's User:ANONYMOUS may
# use every topic and group.
SCRAM_USERS = ("admin", "alice", "carol")
PLAIN_USERS = ("admin", "bob")
KAFKA_ACLS = [
    *(
        f"User:{user} {kind} LITERAL * {operation}"
        for user in ("alice", "bob", "ANONYMOUS")
        for kind, operation in (("TOPIC", "ALL"), ("GROUP", "ALL"))
    ),
    "User:carol TOPIC LITERAL * ALL",
]


@dataclass(frozen=True)
class SecurePorts:
    """Ports of the secured profile, each overridable by the variable named beside it."""

    kafka_sasl_ssl: int  # KFLOW_SECURE_KAFKA_PORT (SASL_SSL)
    kafka_ssl: int  # KFLOW_SECURE_KAFKA_SSL_PORT (SSL)
    kafka_sasl_plaintext: int  # KFLOW_SECURE_KAFKA_SASL_PLAINTEXT_PORT
    kafka_controller: int  # KFLOW_SECURE_KAFKA_CONTROLLER_PORT
    mongo: int  # KFLOW_SECURE_MONGO_PORT (authentication, no TLS)
    mongo_tls: int  # KFLOW_SECURE_MONGO_TLS_PORT (authentication over TLS)
    amqp: int  # KFLOW_SECURE_AMQP_PORT (password, no TLS)
    amqps: int  # KFLOW_SECURE_AMQPS_PORT (password over TLS)
    rabbitmq_dist: int  # KFLOW_SECURE_RABBITMQ_DIST_PORT
    rabbitmq_epmd: int  # KFLOW_SECURE_RABBITMQ_EPMD_PORT
    mqtt: int  # KFLOW_SECURE_MQTT_PORT (password, no TLS)
    mqtts: int  # KFLOW_SECURE_MQTTS_PORT (password over TLS)
    cassandra: int  # KFLOW_SECURE_CASSANDRA_PORT (PasswordAuthenticator; TLS optional)
    cassandra_storage: int  # KFLOW_SECURE_CASSANDRA_STORAGE_PORT

    @classmethod
    def from_env(cls) -> SecurePorts:
        return cls(
            kafka_sasl_ssl=_port("KFLOW_SECURE_KAFKA_PORT", 9192),
            kafka_ssl=_port("KFLOW_SECURE_KAFKA_SSL_PORT", 9194),
            kafka_sasl_plaintext=_port("KFLOW_SECURE_KAFKA_SASL_PLAINTEXT_PORT", 9195),
            kafka_controller=_port("KFLOW_SECURE_KAFKA_CONTROLLER_PORT", 9193),
            mongo=_port("KFLOW_SECURE_MONGO_PORT", 27117),
            mongo_tls=_port("KFLOW_SECURE_MONGO_TLS_PORT", 27118),
            amqp=_port("KFLOW_SECURE_AMQP_PORT", 5772),
            amqps=_port("KFLOW_SECURE_AMQPS_PORT", 5771),
            rabbitmq_dist=_port("KFLOW_SECURE_RABBITMQ_DIST_PORT", 25772),
            rabbitmq_epmd=_port("KFLOW_SECURE_RABBITMQ_EPMD_PORT", 14469),
            mqtt=_port("KFLOW_SECURE_MQTT_PORT", 1983),
            mqtts=_port("KFLOW_SECURE_MQTTS_PORT", 8983),
            cassandra=_port("KFLOW_SECURE_CASSANDRA_PORT", 9142),
            cassandra_storage=_port("KFLOW_SECURE_CASSANDRA_STORAGE_PORT", 7100),
        )


# --- certificates and credentials --------------------------------------------------------------


_LOCK = threading.Lock()


class Material:
    """The profile's certificates, stores and passwords under ``data/secure/``."""

    def __init__(self, layout: Layout) -> None:
        self.dir = layout.data_dir(PROFILE)
        self.profile = self.dir / "profile.json"

    def path(self, name: str) -> Path:
        return self.dir / name

    def ensure(self, say: Say) -> dict[str, Any]:
        """Make what is missing (idempotent); the profile's secrets (``passwords``). The
        services of the profile start in parallel: one makes the files, the others wait."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        with _LOCK, (self.dir / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            return self._ensure(say)

    def _ensure(self, say: Say) -> dict[str, Any]:
        secrets_file = self.path("passwords.json")
        passwords: dict[str, Any] = {}
        if secrets_file.exists():
            passwords = json.loads(secrets_file.read_text())
        names = {f"kafka.{u}" for u in (*SCRAM_USERS, *PLAIN_USERS)}
        names |= {"store", "mongo", "amqp", "mqtt", "cassandra", "cassandra.default"}
        missing = sorted(names - set(passwords))
        if missing:  # a first start, or a service added to the profile since
            passwords.update({name: secrets.token_hex(12) for name in missing})
            _write_private(secrets_file, json.dumps(passwords, indent=2, sort_keys=True) + "\n")
        if not self.path("truststore.jks").exists():
            say(f"secure: making a CA and a server certificate in {self.dir}")
            self._make_certificates(passwords["store"])
        return passwords

    def _make_certificates(self, store_password: str) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise ServiceError("openssl is not on PATH (apt-get install openssl)")
        keytool = find_java_home() / "bin" / "keytool"
        d = self.dir
        for ca in ("ca", "other-ca"):
            _run(
                openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                "-subj", f"/CN=kflow devstack {ca}", "-keyout", d / f"{ca}.key",
                "-out", d / f"{ca}.pem", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            )  # fmt: skip
        _run(
            openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", d / "server.key", "-out", d / "server.csr",
        )  # fmt: skip
        (d / "server.ext").write_text(
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
            "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
        )
        _run(
            openssl, "x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem",
            "-CAkey", d / "ca.key", "-CAcreateserial", "-days", "825", "-sha256",
            "-extfile", d / "server.ext", "-out", d / "server.pem",
        )  # fmt: skip
        _run(
            openssl, "pkcs12", "-export", "-in", d / "server.pem", "-inkey", d / "server.key",
            "-name", "server", "-out", d / "server.p12", "-passout", f"pass:{store_password}",
        )  # fmt: skip
        for store, ca, kind in (
            ("other-truststore.p12", "other-ca", "PKCS12"),
            ("truststore.p12", "ca", "PKCS12"),
            ("truststore.jks", "ca", "JKS"),  # last: its presence means all are made
        ):
            (d / store).unlink(missing_ok=True)
            _run(
                keytool, "-importcert", "-noprompt", "-alias", f"kflow-{ca}",
                "-file", d / f"{ca}.pem", "-keystore", d / store, "-storetype", kind,
                "-storepass", store_password,
            )  # fmt: skip
        for item in d.iterdir():
            item.chmod(0o600 if item.suffix in {".key", ".json"} else 0o644)

    def write_profile(self, passwords: dict[str, Any], ports: SecurePorts) -> None:
        """``profile.json``: what a client of the profile needs (read by testkit/secure.py)."""
        d = self.dir
        profile = {
            "kafka": {
                "sasl_ssl": f"{HOST}:{ports.kafka_sasl_ssl}",
                "ssl": f"{HOST}:{ports.kafka_ssl}",
                "sasl_plaintext": f"{HOST}:{ports.kafka_sasl_plaintext}",
                "scram_users": {u: passwords[f"kafka.{u}"] for u in SCRAM_USERS},
                "plain_users": {u: passwords[f"kafka.{u}"] for u in PLAIN_USERS},
                "no_group_user": "carol",
            },
            "mongo": {
                "address": f"{HOST}:{ports.mongo}",
                "tls_address": f"{HOST}:{ports.mongo_tls}",
                "database": MONGO_DATABASE,
                "user": MONGO_USER,
                "password": passwords["mongo"],
            },
            "amqp": {
                "address": f"{HOST}:{ports.amqp}",
                "tls_address": f"{HOST}:{ports.amqps}",
                "user": SERVICE_USER,
                "password": passwords["amqp"],
            },
            "mqtt": {
                "address": f"{HOST}:{ports.mqtt}",
                "tls_address": f"{HOST}:{ports.mqtts}",
                "user": SERVICE_USER,
                "password": passwords["mqtt"],
            },
            "cassandra": {
                "address": f"{HOST}:{ports.cassandra}",
                "tls": True,  # on the same port, optional
                "user": CASSANDRA_USER,
                "password": passwords["cassandra"],
            },
            "tls": {
                "ca_pem": str(d / "ca.pem"),
                "truststore_jks": str(d / "truststore.jks"),
                "truststore_p12": str(d / "truststore.p12"),
                "truststore_password": passwords["store"],
                "other_ca_pem": str(d / "other-ca.pem"),
                "other_truststore_p12": str(d / "other-truststore.p12"),
            },
        }
        _write_private(self.profile, json.dumps(profile, indent=2) + "\n")


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def _run(*command: str | Path) -> None:
    """Run a certificate tool; ServiceError with its output (never its arguments: they hold
    the store password)."""
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tool = f"{Path(command[0]).name} {command[1]}"
        raise ServiceError(f"{tool} failed: {(result.stdout + result.stderr)[-1500:]}")


def _tls_wrap(ca: Path) -> Any:
    context = ssl.create_default_context(cafile=str(ca))

    def wrap(sock: socket.socket) -> socket.socket:
        return context.wrap_socket(sock, server_hostname=HOST)

    return wrap


# --- Kafka ---------------------------------------------------------------------------------------


class SecureKafka(Kafka):
    """A second Kafka (KRaft) with SASL_SSL, SSL and SASL_PLAINTEXT listeners, SCRAM-SHA-512
    and PLAIN users and the StandardAuthorizer; the plain Kafka's jars."""

    name = "kafka-secure"

    def __init__(self, layout: Layout, ports: Ports) -> None:
        super().__init__(layout, ports)
        self.secure = SecurePorts.from_env()
        self.material = Material(layout)

    @property
    def port(self) -> int:
        return self.secure.kafka_sasl_ssl

    @property
    def all_ports(self) -> list[int]:
        s = self.secure
        return [s.kafka_sasl_ssl, s.kafka_ssl, s.kafka_sasl_plaintext, s.kafka_controller]

    @property
    def config(self) -> Path:
        return self.layout.conf / "kafka-secure-server.properties"

    @property
    def marker(self) -> str:
        return str(self.config)

    @property
    def lib(self) -> Path:
        return self.layout.lib("kafka")

    def build(self, say: Say) -> None:
        builds.maven_jars("kafka", self.lib, self.layout.build_log("kafka"), say)

    def _jvm(self, main: list[str], jvm: list[str]) -> list[str]:
        log4j = SOURCE_DIR / "conf" / "kafka-log4j2.xml"
        return [
            str(find_java_home() / "bin" / "java"),
            *jvm,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile=file:{log4j}",
            f"-Djava.io.tmpdir={self.layout.tmp}",
            "-cp",
            f"{self.lib}/*",
            *main,
        ]

    def command(self, say: Say) -> list[str]:
        passwords = self.material.ensure(say)
        self.material.write_profile(passwords, self.secure)
        data = self.layout.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        admin = passwords["kafka.admin"]
        users = " ".join(f'user_{u}="{passwords[f"kafka.{u}"]}"' for u in PLAIN_USERS)
        plain_jaas = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="admin" password="{admin}" {users};'
        )
        text = Template((CONF / "kafka-server.properties").read_text()).substitute(
            sasl_ssl_port=self.secure.kafka_sasl_ssl,
            ssl_port=self.secure.kafka_ssl,
            sasl_plaintext_port=self.secure.kafka_sasl_plaintext,
            controller_port=self.secure.kafka_controller,
            data_dir=data,
            plain_jaas=plain_jaas,
            keystore=self.material.path("server.p12"),
            keystore_password=passwords["store"],
        )
        _write_private(self.config, text)
        if not (data / "meta.properties").exists():
            cluster_id = _kafka_cluster_id()
            say(f"{self.name}: formatting storage in {data} with SCRAM-SHA-512 users")
            scram = [
                arg
                for user in SCRAM_USERS
                for arg in (
                    "--add-scram",
                    f"SCRAM-SHA-512=[name={user},password={passwords[f'kafka.{user}']}]",
                )
            ]
            result = subprocess.run(
                self._jvm(
                    [
                        "kafka.tools.StorageTool",
                        "format",
                        "-t",
                        cluster_id,
                        "-c",
                        str(self.config),
                        *scram,
                    ],
                    ["-Xmx128m", "-XX:TieredStopAtLevel=1"],
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                output = (result.stdout + result.stderr)[-3000:]
                for secret in passwords.values():
                    output = output.replace(str(secret), "***")
                raise ServiceError(f"{self.name} storage format failed:\n{output}")
            (data / ".acls-pending").touch()
        heap = os.environ.get("KFLOW_SECURE_KAFKA_HEAP", "384m")
        jvm = [f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
        return self._jvm(["kafka.Kafka", str(self.config)], [*jvm, "-XX:+ExitOnOutOfMemoryError"])

    def after_ready(self, say: Say) -> None:
        """After the first start: the ACLs (they live in the metadata log from then on)."""
        pending = self.layout.data_dir(self.name) / ".acls-pending"
        if not pending.exists():
            return
        passwords = self.material.ensure(say)
        client = self.layout.conf / "kafka-secure-admin.properties"
        _write_private(
            client,
            f"bootstrap.servers={HOST}:{self.secure.kafka_sasl_plaintext}\n"
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
            "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="admin" password="{passwords["kafka.admin"]}";\n',
        )
        command = self._jvm(
            [str(CONF / "KafkaAcls.java"), str(client), *KAFKA_ACLS],
            ["-Xmx128m", "-XX:TieredStopAtLevel=1"],
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise ServiceError(f"{self.name}: adding ACLs failed: {result.stderr[-2000:]}")
        said = result.stdout.strip().splitlines() or ["ACLs added"]
        say(f"{self.name}: {said[-1]}")  # the tool's last line; the rest is its logging
        pending.unlink()

    def probe(self, timeout: float = 5.0) -> str:
        ca = self.material.path("ca.pem")
        if not ca.exists():
            raise probes.ProbeError("no certificates yet")
        # The SSL listener: TLS checked against the stack's CA, then ApiVersions + Metadata.
        return probes.kafka(HOST, self.secure.kafka_ssl, timeout, wrap=_tls_wrap(ca))


def secure_services(layout: Layout, ports: Ports) -> list[Service]:
    """The services of ``--profile secure`` (none of them is part of a bare ``up``)."""
    return [
        SecureKafka(layout, ports),
        SecureMongo(layout, ports),
        SecureRabbitMQ(layout, ports),
        SecureMosquitto(layout, ports),
        SecureCassandra(layout, ports),
    ]


# --- MongoDB-compatible server (FerretDB with authentication) ----------------------------------


def _ferretdb_module() -> tuple[str, str]:
    """FerretDB's module path and version, as devstack/ferretdb/go.mod requires them."""
    for line in (SOURCE_DIR / "ferretdb" / "go.mod").read_text().splitlines():
        words = line.split()
        if len(words) >= 2 and words[-2] == "github.com/FerretDB/FerretDB":
            return words[-2], words[-1]
        if len(words) >= 3 and words[0] == "require" and words[1] == "github.com/FerretDB/FerretDB":
            return words[1], words[2]
    raise ServiceError("devstack/ferretdb/go.mod does not require github.com/FerretDB/FerretDB")


class SecureMongo(Service):
    """FerretDB's own command (not the embedding main of the plain ``mongo``: its package
    does not offer authentication), SQLite backend, with the experimental authentication of
    FerretDB 1.x (``--test-enable-new-auth``: SCRAM-SHA-256/SHA-1 logins, every command but
    hello/ping/... refused without one) and a TLS listener. The first start creates user
    ``kflow`` of database ``kestra`` (``--setup-*``)."""

    name = "mongo-secure"
    start_timeout = 60.0
    stop_timeout = 15.0

    def __init__(self, layout: Layout, ports: Ports) -> None:
        super().__init__(layout, ports)
        self.secure = SecurePorts.from_env()
        self.material = Material(layout)

    @property
    def port(self) -> int:
        return self.secure.mongo

    @property
    def all_ports(self) -> list[int]:
        return [self.secure.mongo, self.secure.mongo_tls]

    @property
    def binary(self) -> Path:
        return self.layout.bin / "ferretdb-secure"

    @property
    def marker(self) -> str:
        return str(self.binary)

    def build(self, say: Say) -> None:
        """``go build ./cmd/ferretdb`` in a writable copy of the module that devstack/ferretdb
        already uses, with the ``build/version/version.txt`` its zip lacks (without it the
        command panics at start: FerretDB issues #2982, #4889)."""
        go = shutil.which("go") or "/usr/local/go/bin/go"
        module, version = _ferretdb_module()
        stamp = self.binary.with_name(self.binary.name + ".stamp")
        go_version = subprocess.run([go, "version"], capture_output=True, text=True).stdout
        wanted = f"{module}@{version} {go_version.strip()}"
        if self.binary.is_file() and stamp.is_file() and stamp.read_text() == wanted:
            return
        log = self.layout.build_log(self.name)
        say(f"{self.name}: building FerretDB's command with Go (first run only; log {log})")
        env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0")
        with log.open("a") as out:
            found = subprocess.run(
                [go, "mod", "download", "-json", f"{module}@{version}"],
                capture_output=True, text=True, cwd=SOURCE_DIR / "ferretdb", env=env,
            )  # fmt: skip
            out.write(found.stdout + found.stderr)
            if found.returncode != 0:
                raise ServiceError(f"go mod download {module}@{version} failed (log {log})")
            source = Path(json.loads(found.stdout)["Dir"])
            copy = self.layout.tmp / "ferretdb-src"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(source, copy)
            for path in copy.rglob("*"):
                path.chmod(path.stat().st_mode | 0o200)
            (copy / "build" / "version" / "version.txt").write_text(version + "\n")
            staging = self.binary.with_name(self.binary.name + ".partial")
            built = subprocess.run(
                [go, "build", "-trimpath", "-o", str(staging), "./cmd/ferretdb"],
                stdout=out, stderr=subprocess.STDOUT, cwd=copy, env=env,
            )  # fmt: skip
            shutil.rmtree(copy, ignore_errors=True)
        if built.returncode != 0:
            raise ServiceError(f"go build of FerretDB's command failed (log {log})")
        staging.replace(self.binary)
        stamp.write_text(wanted)

    def environment(self) -> dict[str, str]:
        passwords = self.material.ensure(lambda _: None)
        # The password of the first user, from the environment: not on the command line.
        return dict(os.environ, FERRETDB_SETUP_PASSWORD=passwords["mongo"])

    def command(self, say: Say) -> list[str]:
        passwords = self.material.ensure(say)
        self.material.write_profile(passwords, self.secure)
        data = self.layout.data_dir(self.name)
        (data / "sqlite").mkdir(parents=True, exist_ok=True)
        (data / "state").mkdir(parents=True, exist_ok=True)
        return [
            str(self.binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{data / 'sqlite'}/",
            f"--state-dir={data / 'state'}",
            f"--listen-addr={HOST}:{self.secure.mongo}",
            f"--listen-tls={HOST}:{self.secure.mongo_tls}",
            f"--listen-tls-cert-file={self.material.path('server.pem')}",
            f"--listen-tls-key-file={self.material.path('server.key')}",
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=info",
            "--test-enable-new-auth",
            f"--setup-database={MONGO_DATABASE}",
            f"--setup-username={MONGO_USER}",
        ]

    def probe(self, timeout: float = 5.0) -> str:
        ca = self.material.path("ca.pem")
        if not ca.exists():
            raise probes.ProbeError("no certificates yet")
        detail = probes.mongo(HOST, self.secure.mongo, timeout)
        tls = probes.mongo(HOST, self.secure.mongo_tls, timeout, wrap=_tls_wrap(ca))
        return f"{detail}; TLS: {tls}"


# --- RabbitMQ and Mosquitto -----------------------------------------------------------------------


class SecureRabbitMQ(RabbitMQ):
    """A second RabbitMQ node (its own node name, ports, epmd, cookie and mnesia): user
    ``kflow`` with a password (no guest), AMQP on one port and AMQPS (TLS) on another."""

    name = "rabbitmq-secure"

    def __init__(self, layout: Layout, ports: Ports) -> None:
        self.secure = SecurePorts.from_env()
        s = self.secure
        # The plain node's code, on the profile's ports.
        moved = replace(
            ports, amqp=s.amqp, rabbitmq_dist=s.rabbitmq_dist, rabbitmq_epmd=s.rabbitmq_epmd
        )
        super().__init__(layout, moved)
        self.material = Material(layout)

    @property
    def all_ports(self) -> list[int]:
        return [*super().all_ports, self.secure.amqps]

    @property
    def config(self) -> Path:
        return self.layout.conf / "rabbitmq-secure.conf"

    @property
    def node(self) -> str:
        return super().node.replace("kflow-", "kflow-secure-", 1)

    @property
    def epmd_link(self) -> Path:
        return self.layout.bin / "secure-epmd"  # not a name the plain epmd's marker is in

    @property
    def epmd_pidfile(self) -> Path:
        return self.layout.pidfile("rabbitmq-secure-epmd")

    @property
    def epmd_log(self) -> Path:
        return self.layout.log("rabbitmq-secure-epmd")

    def command(self, say: Say) -> list[str]:
        passwords = self.material.ensure(say)
        self.material.write_profile(passwords, self.secure)
        command = super().command(say)  # writes the plain template; replaced here
        text = Template((CONF / "rabbitmq.conf").read_text()).substitute(
            amqp_port=self.secure.amqp,
            amqps_port=self.secure.amqps,
            cafile=self.material.path("ca.pem"),
            certfile=self.material.path("server.pem"),
            keyfile=self.material.path("server.key"),
            user=SERVICE_USER,
            password=passwords["amqp"],
        )
        _write_private(self.config, text)
        return command

    def probe(self, timeout: float = 5.0) -> str:
        passwords = self.material.ensure(lambda _: None)
        login = {"user": SERVICE_USER, "password": passwords["amqp"]}
        plain = probes.amqp(HOST, self.secure.amqp, timeout, **login)
        wrap = _tls_wrap(self.material.path("ca.pem"))
        probes.amqp(HOST, self.secure.amqps, timeout, **login, wrap=wrap)
        return f"{plain}; AMQPS too"


class SecureMosquitto(Mosquitto):
    """A second Mosquitto: no anonymous clients, user ``kflow`` in a password file, MQTT on
    one port and MQTT over TLS on another."""

    name = "mosquitto-secure"

    def __init__(self, layout: Layout, ports: Ports) -> None:
        super().__init__(layout, ports)
        self.secure = SecurePorts.from_env()
        self.material = Material(layout)

    @property
    def port(self) -> int:
        return self.secure.mqtt

    @property
    def all_ports(self) -> list[int]:
        return [self.secure.mqtt, self.secure.mqtts]

    @property
    def config(self) -> Path:
        return self.layout.conf / "mosquitto-secure.conf"

    def command(self, say: Say) -> list[str]:
        passwords = self.material.ensure(say)
        self.material.write_profile(passwords, self.secure)
        data = self.layout.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        password_file = self.layout.conf / "mosquitto-secure.passwd"
        # Written in clear, then hashed in place (-U): the password is never an argument.
        _write_private(password_file, f"{SERVICE_USER}:{passwords['mqtt']}\n")
        tool = Path(shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd")
        _run(tool, "-U", password_file)
        text = Template((CONF / "mosquitto.conf").read_text()).substitute(
            mqtt_port=self.secure.mqtt,
            mqtts_port=self.secure.mqtts,
            password_file=password_file,
            cafile=self.material.path("ca.pem"),
            certfile=self.material.path("server.pem"),
            keyfile=self.material.path("server.key"),
            data_dir=data,
            user=pwd.getpwuid(os.geteuid()).pw_name,
            log_file=self.log,
        )
        _write_private(self.config, text)
        return [debian.MOSQUITTO.program, "-c", str(self.config)]

    def probe(self, timeout: float = 5.0) -> str:
        passwords = self.material.ensure(lambda _: None)
        login = (SERVICE_USER, passwords["mqtt"])
        plain = probes.mqtt(HOST, self.secure.mqtt, timeout, login=login)
        wrap = _tls_wrap(self.material.path("ca.pem"))
        probes.mqtt(HOST, self.secure.mqtts, timeout, login=login, wrap=wrap)
        return f"{plain}; over TLS too"


# --- Cassandra (PasswordAuthenticator) ------------------------------------------------------------

_CQL_AUTHENTICATE, _CQL_AUTH_RESPONSE, _CQL_AUTH_SUCCESS = 0x03, 0x0F, 0x10


def cql_as(host: str, port: int, login: tuple[str, str], statements: list[str]) -> str:
    """STARTUP, a PasswordAuthenticator login (SASL PLAIN), then each statement; the release
    version. ProbeError if the server refuses any of it."""
    # The CQL helpers of probes.py (its framing and errors), with a login added.
    from .probes import _OP_QUERY, _OP_READY, _OP_STARTUP, _cql_call, _cql_string, _single_text_cell

    def talk(sock: socket.socket) -> str:
        startup = struct.pack(">H", 1) + _cql_string("CQL_VERSION") + _cql_string("3.0.0")
        answer, _ = _cql_call(sock, _OP_STARTUP, startup, 1)
        if answer == _CQL_AUTHENTICATE:
            token = b"\0" + login[0].encode() + b"\0" + login[1].encode()
            answer, _ = _cql_call(
                sock, _CQL_AUTH_RESPONSE, struct.pack(">i", len(token)) + token, 2
            )
            if answer != _CQL_AUTH_SUCCESS:
                raise probes.ProbeError(f"login answered with opcode 0x{answer:02x}")
        elif answer != _OP_READY:
            raise probes.ProbeError(f"STARTUP answered with opcode 0x{answer:02x}")
        for stream, text in enumerate(statements, start=3):
            raw = text.encode()
            body = struct.pack(">i", len(raw)) + raw + struct.pack(">HB", 0x0006, 0)  # LOCAL_QUORUM
            _cql_call(sock, _OP_QUERY, body, stream)
        raw = b"SELECT release_version FROM system.local"
        body = struct.pack(">i", len(raw)) + raw + struct.pack(">HB", 0x0001, 0)
        _, payload = _cql_call(sock, _OP_QUERY, body, 100)
        return f"Cassandra {_single_text_cell(payload)} ({login[0]} logged in)"

    return probes._guard(talk, host, port, 5.0)


class _SecureCassandraLayout(Layout):
    """The stack's layout, but the rendered configuration in ``conf/cassandra-secure/`` and
    the plain Cassandra's jars: ``Cassandra.command`` then writes nothing of the plain one's."""

    @property
    def conf(self) -> Path:
        return self.root / "conf" / "cassandra-secure"

    def lib(self, name: str) -> Path:
        return super().lib("cassandra" if name == SecureCassandra.name else name)


class SecureCassandra(Cassandra):
    """A second Cassandra node (its own cluster name, ports, data) with PasswordAuthenticator
    and CassandraAuthorizer, and TLS (optional) on its native port. After the first start,
    role ``kflow`` (a random password, superuser) is made and the default ``cassandra`` role
    gets a random password too.
    Heavy (``KFLOW_SECURE_CASSANDRA_HEAP``, default 768M): only in the secured profile."""

    name = "cassandra-secure"

    def __init__(self, layout: Layout, ports: Ports) -> None:
        self.secure = SecurePorts.from_env()
        s = self.secure
        moved = replace(ports, cassandra=s.cassandra, cassandra_storage=s.cassandra_storage)
        super().__init__(layout, moved)
        self.layout = _SecureCassandraLayout(root=self.layout.root)
        self.material = Material(layout)

    def build(self, say: Say) -> None:
        lib = self.layout.lib("cassandra")
        builds.maven_jars("cassandra", lib, self.layout.build_log("cassandra"), say)

    def command(self, say: Say) -> list[str]:
        passwords = self.material.ensure(say)
        self.material.write_profile(passwords, self.secure)
        self.layout.conf.mkdir(parents=True, exist_ok=True)
        command = super().command(say)
        config = self.layout.conf / "cassandra.yaml"
        text = config.read_text()
        for old, new in (
            ("cluster_name: kflow-devstack", "cluster_name: kflow-devstack-secure"),
            ("authenticator: AllowAllAuthenticator", "authenticator: PasswordAuthenticator"),
            ("authorizer: AllowAllAuthorizer", "authorizer: CassandraAuthorizer"),
        ):
            if old not in text:
                raise ServiceError(f"devstack/conf/cassandra.yaml has no line {old!r}")
            text = text.replace(old, new)
        # TLS on the same port, optional: a client may start TLS or speak plain CQL (the
        # password-only tests and the stack's own probe do).
        text += (
            "\nclient_encryption_options:\n"
            "  enabled: true\n"
            "  optional: true\n"
            f"  keystore: {self.material.path('server.p12')}\n"
            f"  keystore_password: {passwords['store']}\n"
            "  store_type: PKCS12\n"
            "  require_client_auth: false\n"
        )
        config.write_text(text)
        config.chmod(0o600)  # it holds the store password
        heap = os.environ.get("KFLOW_SECURE_CASSANDRA_HEAP", "768M")
        return [
            f"-Xms{heap}" if a.startswith("-Xms") else f"-Xmx{heap}" if a.startswith("-Xmx") else a
            for a in command
        ]

    def after_ready(self, say: Say) -> None:
        """First start: role ``kflow``, and a password of its own for ``cassandra``. The
        default role appears some seconds after the node answers: retried for a minute."""
        data = self.layout.data_dir(self.name)
        done = data / ".roles-made"
        if done.exists():
            return
        passwords = self.material.ensure(say)
        user, password = CASSANDRA_USER, passwords["cassandra"]
        statements = [
            f"CREATE ROLE IF NOT EXISTS {user} WITH PASSWORD = '{password}' "
            "AND LOGIN = true AND SUPERUSER = true",
            f"ALTER ROLE cassandra WITH PASSWORD = '{passwords['cassandra.default']}'",
        ]
        deadline = time.monotonic() + 90
        while True:
            try:
                cql_as(HOST, self.secure.cassandra, ("cassandra", "cassandra"), statements)
                break
            except probes.ProbeError as exc:
                try:  # made by an earlier attempt that did not get to write the marker?
                    cql_as(HOST, self.secure.cassandra, (user, password), [])
                    break
                except probes.ProbeError:
                    pass
                if time.monotonic() > deadline:
                    raise ServiceError(f"{self.name}: making role {user} failed: {exc}") from exc
                time.sleep(1)
        done.touch()
        say(f"{self.name}: role {user} made")

    def probe(self, timeout: float = 5.0) -> str:
        passwords = self.material.ensure(lambda _: None)
        if (self.layout.data_dir(self.name) / ".roles-made").exists():
            return cql_as(HOST, self.secure.cassandra, (CASSANDRA_USER, passwords["cassandra"]), [])
        # Before the roles exist: the node must answer STARTUP by asking for a password.
        from .probes import _OP_STARTUP, _cql_call, _cql_string

        def asks(sock: socket.socket) -> str:
            startup = struct.pack(">H", 1) + _cql_string("CQL_VERSION") + _cql_string("3.0.0")
            answer, _ = _cql_call(sock, _OP_STARTUP, startup, 1)
            if answer != _CQL_AUTHENTICATE:
                raise probes.ProbeError(f"STARTUP answered with opcode 0x{answer:02x}")
            return "asks for a password"

        return probes._guard(asks, HOST, self.secure.cassandra, timeout)
