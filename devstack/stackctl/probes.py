"""Readiness checks that speak each service's own wire protocol over a plain socket.

Each probe sends a real client request and raises ``ProbeError`` unless the server answers it
correctly; an open port alone is not enough. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import struct
from collections.abc import Callable, Mapping


class ProbeError(Exception):
    """The service did not answer, or answered with an error."""


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProbeError("connection closed by the server")
        chunks += chunk
    return bytes(chunks)


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ProbeError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc


def _guard(
    probe: Callable[[socket.socket], str],
    host: str,
    port: int,
    timeout: float,
    wrap: Callable[[socket.socket], socket.socket] | None = None,
) -> str:
    """``probe`` on a connection to host:port; ``wrap`` (TLS, say) is applied to it first."""
    sock = _connect(host, port, timeout)
    try:
        if wrap is not None:
            sock = wrap(sock)
        return probe(sock)
    except (OSError, struct.error, IndexError, KeyError, ValueError) as exc:
        raise ProbeError(f"bad answer from {host}:{port}: {exc}") from exc
    finally:
        sock.close()


# --- Kafka ---------------------------------------------------------------------------------

_API_VERSIONS = 18
_METADATA = 3


class _Reader:
    """Reads big-endian fields from a response body."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str | None:
        size = self.take(">h")
        if size < 0:
            return None
        value = self.data[self.pos : self.pos + size].decode()
        self.pos += size
        return value


def _kafka_call(sock: socket.socket, api_key: int, version: int, body: bytes) -> _Reader:
    client_id = b"kflow-devstack"
    correlation = 7
    header = struct.pack(">hhih", api_key, version, correlation, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    reader = _Reader(_recv_exact(sock, size))
    if reader.take(">i") != correlation:
        raise ProbeError("Kafka answered with another correlation id")
    return reader


def kafka(
    host: str,
    port: int,
    timeout: float = 5.0,
    wrap: Callable[[socket.socket], socket.socket] | None = None,
) -> str:
    """ApiVersions, then a Metadata request that must list at least one live broker."""

    def probe(sock: socket.socket) -> str:
        reader = _kafka_call(sock, _API_VERSIONS, 0, b"")
        error = reader.take(">h")
        if error:
            raise ProbeError(f"ApiVersions failed with Kafka error code {error}")
        ranges = {}
        for _ in range(reader.take(">i")):
            key, low, high = reader.take(">h"), reader.take(">h"), reader.take(">h")
            ranges[key] = (low, high)
        low, high = ranges.get(_METADATA, (0, -1))
        # Versions 4-8 share one non-flexible layout; pick the oldest the broker still accepts.
        version = max(low, 4)
        if version > min(high, 8):
            raise ProbeError(f"broker offers Metadata v{low}-v{high}, probe speaks v4-v8")
        body = struct.pack(">i?", 0, False)  # no topics, do not create any
        if version >= 8:
            body += struct.pack(">??", False, False)
        reader = _kafka_call(sock, _METADATA, version, body)
        reader.take(">i")  # throttle time
        brokers = []
        for _ in range(reader.take(">i")):
            node = reader.take(">i")
            broker_host = reader.string()
            broker_port = reader.take(">i")
            reader.string()  # rack
            brokers.append(f"{node}@{broker_host}:{broker_port}")
        if not brokers:
            raise ProbeError("Metadata lists no live broker yet")
        return f"broker {', '.join(brokers)}"

    return _guard(probe, host, port, timeout, wrap)


# --- Cassandra (CQL native protocol v4) -------------------------------------------------------

_CQL_VERSION = 0x04
_OP_ERROR, _OP_STARTUP, _OP_READY, _OP_OPTIONS = 0x00, 0x01, 0x02, 0x05
_OP_SUPPORTED, _OP_QUERY, _OP_RESULT = 0x06, 0x07, 0x08


def _cql_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def _cql_call(sock: socket.socket, opcode: int, body: bytes, stream: int) -> tuple[int, bytes]:
    sock.sendall(struct.pack(">BBhBi", _CQL_VERSION, 0, stream, opcode, len(body)) + body)
    version, _flags, _stream, answer, size = struct.unpack(">BBhBi", _recv_exact(sock, 9))
    payload = _recv_exact(sock, size)
    if version & 0x7F != _CQL_VERSION:
        raise ProbeError(f"server answered in CQL protocol v{version & 0x7F}")
    if answer == _OP_ERROR:
        code = struct.unpack_from(">i", payload)[0]
        (length,) = struct.unpack_from(">H", payload, 4)
        message = payload[6 : 6 + length].decode(errors="replace")
        raise ProbeError(f"CQL error 0x{code:04x}: {message}")
    return answer, payload


def _single_text_cell(payload: bytes) -> str:
    """The one text value of a one-row, one-column ROWS result."""
    reader = _Reader(payload)
    if reader.take(">i") != 2:  # result kind Rows
        raise ProbeError("query did not return rows")
    flags = reader.take(">i")
    columns = reader.take(">i")
    if flags & 0x0002:  # has_more_pages: paging state
        reader.pos += max(reader.take(">i"), 0)
    if flags & 0x0004:  # no_metadata
        raise ProbeError("rows came without metadata")
    if flags & 0x0001:  # global table spec
        reader.string()
        reader.string()
    for _ in range(columns):
        if not flags & 0x0001:
            reader.string()
            reader.string()
        reader.string()  # column name
        reader.take(">H")  # type id (text types carry no extra option)
    if reader.take(">i") < 1:
        raise ProbeError("query returned no row")
    size = reader.take(">i")
    return reader.data[reader.pos : reader.pos + size].decode()


def cassandra(host: str, port: int, timeout: float = 5.0) -> str:
    """OPTIONS, STARTUP, then ``SELECT release_version FROM system.local``."""

    def probe(sock: socket.socket) -> str:
        answer, _ = _cql_call(sock, _OP_OPTIONS, b"", 1)
        if answer != _OP_SUPPORTED:
            raise ProbeError(f"OPTIONS answered with opcode 0x{answer:02x}")
        startup = struct.pack(">H", 1) + _cql_string("CQL_VERSION") + _cql_string("3.0.0")
        answer, _ = _cql_call(sock, _OP_STARTUP, startup, 2)
        if answer != _OP_READY:
            raise ProbeError(f"STARTUP answered with opcode 0x{answer:02x}")
        query = b"SELECT release_version FROM system.local"
        body = struct.pack(">i", len(query)) + query + struct.pack(">HB", 0x0001, 0)
        answer, payload = _cql_call(sock, _OP_QUERY, body, 3)
        if answer != _OP_RESULT:
            raise ProbeError(f"QUERY answered with opcode 0x{answer:02x}")
        return f"Cassandra {_single_text_cell(payload)}"

    return _guard(probe, host, port, timeout)


# --- MongoDB wire protocol (OP_MSG) ------------------------------------------------------------

_OP_MSG = 2013


def _bson_ping() -> bytes:
    elements = b"\x10ping\x00" + struct.pack("<i", 1)
    db = b"admin\x00"
    elements += b"\x02$db\x00" + struct.pack("<i", len(db)) + db
    return struct.pack("<i", 4 + len(elements) + 1) + elements + b"\x00"


_FIXED_SIZES = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16}


def _bson_number(doc: bytes, key: str) -> float | None:
    """The numeric value of a top-level field of a BSON document, if present."""
    pos = 4
    while pos < len(doc) and doc[pos] != 0:
        kind = doc[pos]
        end = doc.index(b"\x00", pos + 1)
        name = doc[pos + 1 : end].decode()
        pos = end + 1
        if name == key:
            if kind == 0x01:
                return float(struct.unpack_from("<d", doc, pos)[0])
            if kind == 0x10:
                return float(struct.unpack_from("<i", doc, pos)[0])
            if kind == 0x12:
                return float(struct.unpack_from("<q", doc, pos)[0])
            if kind == 0x08:
                return float(doc[pos])
            return None
        if kind in _FIXED_SIZES:
            pos += _FIXED_SIZES[kind]
        elif kind in (0x02, 0x0D, 0x0E):  # string, code, symbol
            pos += 4 + struct.unpack_from("<i", doc, pos)[0]
        elif kind in (0x03, 0x04):  # document, array
            pos += struct.unpack_from("<i", doc, pos)[0]
        elif kind == 0x05:  # binary
            pos += 5 + struct.unpack_from("<i", doc, pos)[0]
        else:
            return None
    return None


def mongo(
    host: str,
    port: int,
    timeout: float = 5.0,
    wrap: Callable[[socket.socket], socket.socket] | None = None,
) -> str:
    """OP_MSG ``{ping: 1}`` against the admin database; the answer must say ``ok: 1``."""

    def probe(sock: socket.socket) -> str:
        body = struct.pack("<IB", 0, 0) + _bson_ping()
        request_id = 11
        sock.sendall(struct.pack("<iiii", 16 + len(body), request_id, 0, _OP_MSG) + body)
        size, _, response_to, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
        payload = _recv_exact(sock, size - 16)
        if opcode != _OP_MSG or response_to != request_id:
            raise ProbeError(f"unexpected reply opcode {opcode} to request {response_to}")
        if payload[4] != 0:
            raise ProbeError("reply does not start with a body section")
        ok = _bson_number(payload[5:], "ok")
        if ok != 1.0:
            raise ProbeError(f"ping answered ok={ok}")
        return "ping ok"

    return _guard(probe, host, port, timeout, wrap)


# --- AMQP 0-9-1 (RabbitMQ) -----------------------------------------------------------------

_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
_FRAME_METHOD, _FRAME_END = 1, 0xCE
_CONNECTION = 10
_START, _START_OK, _TUNE, _TUNE_OK = 10, 11, 30, 31
_OPEN, _OPEN_OK, _CLOSE, _CLOSE_OK = 40, 41, 50, 51


def _shortstr(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">B", len(raw)) + raw


def _longstr(raw: bytes) -> bytes:
    return struct.pack(">I", len(raw)) + raw


def _amqp_table(fields: Mapping[str, object]) -> bytes:
    """A field table of strings (S), booleans (t) and nested tables (F)."""
    body = b""
    for key, value in fields.items():
        body += _shortstr(key)
        if isinstance(value, bool):
            body += b"t" + struct.pack(">B", value)
        elif isinstance(value, dict):
            body += b"F" + _amqp_table(value)
        else:
            body += b"S" + _longstr(str(value).encode())
    return _longstr(body)


_AMQP_FIXED = {
    "t": 1, "b": 1, "B": 1, "s": 2, "u": 2, "I": 4, "i": 4, "f": 4,
    "l": 8, "L": 8, "d": 8, "T": 8, "D": 5, "V": 0,
}  # fmt: skip


def _amqp_strings(data: bytes) -> dict[str, str]:
    """The top-level longstr fields of a field table body (product, version, ...)."""
    found: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        size = data[pos]
        key = data[pos + 1 : pos + 1 + size].decode(errors="replace")
        pos += 1 + size
        kind = chr(data[pos])
        pos += 1
        if kind in ("S", "x", "F", "A"):
            (length,) = struct.unpack_from(">I", data, pos)
            if kind == "S":
                found[key] = data[pos + 4 : pos + 4 + length].decode(errors="replace")
            pos += 4 + length
        elif kind in _AMQP_FIXED:
            pos += _AMQP_FIXED[kind]
        else:  # a type this reader does not know: stop, keep what was read
            break
    return found


def _amqp_send(sock: socket.socket, method: int, args: bytes) -> None:
    payload = struct.pack(">HH", _CONNECTION, method) + args
    frame = struct.pack(">BHI", _FRAME_METHOD, 0, len(payload)) + payload
    sock.sendall(frame + bytes([_FRAME_END]))


def _amqp_method(sock: socket.socket, expected: int) -> bytes:
    """Read one Connection method frame; raise ProbeError on Connection.Close or surprises."""
    head = _recv_exact(sock, 7)
    if head[:4] == b"AMQP":  # the server refused our protocol version and sent its own
        raise ProbeError(f"server speaks AMQP {'.'.join(map(str, head[5:8]))}, not 0-9-1")
    kind, _channel, size = struct.unpack(">BHI", head)
    payload = _recv_exact(sock, size)
    if _recv_exact(sock, 1)[0] != _FRAME_END:
        raise ProbeError("malformed AMQP frame (no frame-end octet)")
    if kind != _FRAME_METHOD:
        raise ProbeError(f"expected a method frame, got frame type {kind}")
    class_id, method_id = struct.unpack_from(">HH", payload)
    args = payload[4:]
    if (class_id, method_id) == (_CONNECTION, _CLOSE):
        (code,) = struct.unpack_from(">H", args)
        text = args[3 : 3 + args[2]].decode(errors="replace")
        raise ProbeError(f"server closed the connection: {code} {text}")
    if (class_id, method_id) != (_CONNECTION, expected):
        raise ProbeError(f"expected connection method {expected}, got {class_id}.{method_id}")
    return args


def amqp(
    host: str,
    port: int,
    timeout: float = 5.0,
    user: str = "guest",
    password: str = "guest",
    vhost: str = "/",
    wrap: Callable[[socket.socket], socket.socket] | None = None,
) -> str:
    """The AMQP 0-9-1 handshake and a PLAIN login: protocol header, Connection.Start/Start-Ok,
    Tune/Tune-Ok, Open/Open-Ok on ``vhost``, then a clean Connection.Close."""

    def probe(sock: socket.socket) -> str:
        sock.sendall(_AMQP_HEADER)
        start = _amqp_method(sock, _START)
        major, minor = start[0], start[1]
        (table_size,) = struct.unpack_from(">I", start, 2)
        server = _amqp_strings(start[6 : 6 + table_size])
        pos = 6 + table_size
        (mech_size,) = struct.unpack_from(">I", start, pos)
        mechanisms = start[pos + 4 : pos + 4 + mech_size].decode().split()
        if (major, minor) != (0, 9):
            raise ProbeError(f"Connection.Start offers AMQP {major}-{minor}, not 0-9")
        if "PLAIN" not in mechanisms:
            raise ProbeError(f"server offers {mechanisms}, not PLAIN")
        client = {
            "product": "kflow-devstack probe",
            "capabilities": {"authentication_failure_close": True},
        }
        response = b"\x00" + user.encode() + b"\x00" + password.encode()
        _amqp_send(
            sock,
            _START_OK,
            _amqp_table(client) + _shortstr("PLAIN") + _longstr(response) + _shortstr("en_US"),
        )
        tune = _amqp_method(sock, _TUNE)
        channel_max, frame_max, _heartbeat = struct.unpack_from(">HIH", tune)
        _amqp_send(sock, _TUNE_OK, struct.pack(">HIH", channel_max, frame_max, 0))
        _amqp_send(sock, _OPEN, _shortstr(vhost) + _shortstr("") + b"\x00")
        _amqp_method(sock, _OPEN_OK)
        _amqp_send(sock, _CLOSE, struct.pack(">H", 200) + _shortstr("probe done") + b"\0" * 4)
        _amqp_method(sock, _CLOSE_OK)
        product = f"{server.get('product', 'AMQP server')} {server.get('version', '')}".strip()
        return f"{product}, {user} logged in to vhost {vhost}"

    return _guard(probe, host, port, timeout, wrap)


# --- MQTT 3.1.1 (Mosquitto) ----------------------------------------------------------------

_CONNACK_CODES = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


def mqtt(
    host: str,
    port: int,
    timeout: float = 5.0,
    login: tuple[str, str] | None = None,
    wrap: Callable[[socket.socket], socket.socket] | None = None,
) -> str:
    """CONNECT (MQTT 3.1.1, clean session, anonymous or as ``login``'s user and password);
    CONNACK must accept it (code 0)."""

    def probe(sock: socket.socket) -> str:
        client_id = f"kflow-devstack-probe-{os.getpid()}".encode()
        flags = 0x02 | (0xC0 if login else 0)  # clean session (+ user name and password)
        variable = _mqtt_utf8(b"MQTT") + struct.pack(">BBH", 4, flags, 10)  # keepalive 10 s
        body = variable + _mqtt_utf8(client_id)
        if login:
            body += _mqtt_utf8(login[0].encode()) + _mqtt_utf8(login[1].encode())
        sock.sendall(bytes([0x10, len(body)]) + body)
        kind, size = _recv_exact(sock, 2)
        if kind != 0x20 or size != 2:
            raise ProbeError(f"expected CONNACK, got packet 0x{kind:02x} of {size} bytes")
        _flags, code = _recv_exact(sock, 2)
        if code != 0:
            reason = _CONNACK_CODES.get(code, "unknown code")
            raise ProbeError(f"CONNACK refused the connection: {code} ({reason})")
        sock.sendall(b"\xe0\x00")  # DISCONNECT
        return "MQTT 3.1.1 CONNACK accepted"

    return _guard(probe, host, port, timeout, wrap)


def _mqtt_utf8(raw: bytes) -> bytes:
    return struct.pack(">H", len(raw)) + raw


# --- epmd (Erlang port mapper) -------------------------------------------------------------


def epmd_names(host: str, port: int, timeout: float = 2.0) -> list[str]:
    """NAMES_REQ: the node names registered with the epmd on ``host:port``."""

    def probe(sock: socket.socket) -> str:
        sock.sendall(struct.pack(">HB", 1, 110))
        _recv_exact(sock, 4)  # epmd's own port
        chunks = bytearray()
        while chunk := sock.recv(4096):
            chunks += chunk
        return chunks.decode(errors="replace")

    text = _guard(probe, host, port, timeout)
    return [line.split()[1] for line in text.splitlines() if line.startswith("name ")]


# --- PostgreSQL (frontend/backend protocol 3.0) --------------------------------------------


def _pg_message(sock: socket.socket) -> tuple[bytes, bytes]:
    kind = _recv_exact(sock, 1)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    return kind, _recv_exact(sock, size - 4)


def _pg_send(sock: socket.socket, kind: bytes, body: bytes) -> None:
    sock.sendall(kind + struct.pack(">i", 4 + len(body)) + body)


def _pg_error(body: bytes) -> str:
    """``SQLSTATE message`` of an ErrorResponse body (fields: code byte, C string)."""
    fields = {item[:1]: item[1:].decode(errors="replace") for item in body.split(b"\0") if item}
    return f"{fields.get(b'C', '?????')} {fields.get(b'M', 'no message')}"


def _scram_sha256(sock: socket.socket, password: str, mechanisms: list[str], nonce: str) -> None:
    """SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL speaks it: the user name is the startup
    message's, so the SCRAM one is empty; no channel binding."""
    if "SCRAM-SHA-256" not in mechanisms:
        raise ProbeError(f"server offers SASL {mechanisms}, probe speaks SCRAM-SHA-256")
    client_first_bare = f"n=,r={nonce}"
    first = f"n,,{client_first_bare}".encode()
    _pg_send(sock, b"p", b"SCRAM-SHA-256\0" + struct.pack(">i", len(first)) + first)
    kind, body = _pg_message(sock)
    if kind == b"E":
        raise ProbeError(f"SCRAM refused: {_pg_error(body)}")
    if kind != b"R" or struct.unpack_from(">i", body)[0] != 11:
        raise ProbeError("expected AuthenticationSASLContinue")
    server_first = body[4:].decode()
    parts = dict(item.split("=", 1) for item in server_first.split(","))
    if not parts["r"].startswith(nonce):
        raise ProbeError("SCRAM server nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(parts["s"]), int(parts["i"])
    )
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    without_proof = f"c=biws,r={parts['r']}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    final = f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
    _pg_send(sock, b"p", final)
    kind, body = _pg_message(sock)
    if kind == b"E":
        raise ProbeError(f"login refused: {_pg_error(body)}")
    if kind != b"R" or struct.unpack_from(">i", body)[0] != 12:
        raise ProbeError("expected AuthenticationSASLFinal")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    expected = base64.b64encode(hmac.digest(server_key, auth_message, "sha256")).decode()
    if body[4:].decode() != f"v={expected}":
        raise ProbeError("SCRAM server signature does not verify")


def _pg_authenticate(sock: socket.socket, user: str, password: str) -> str:
    """Answer the server's authentication requests until AuthenticationOk; the method used."""
    method = "trust"
    while True:
        kind, body = _pg_message(sock)
        if kind == b"E":
            raise ProbeError(_pg_error(body))
        if kind != b"R":
            raise ProbeError(f"expected an authentication request, got message {kind!r}")
        (code,) = struct.unpack_from(">i", body)
        if code == 0:
            return method
        if code == 3:
            method = "password"
            _pg_send(sock, b"p", password.encode() + b"\0")
        elif code == 5:
            method = "md5"
            inner = hashlib.md5((password + user).encode()).hexdigest().encode()
            digest = hashlib.md5(inner + body[4:8]).hexdigest()
            _pg_send(sock, b"p", b"md5" + digest.encode() + b"\0")
        elif code == 10:
            method = "scram-sha-256"
            mechanisms = [m.decode() for m in body[4:].split(b"\0") if m]
            _scram_sha256(sock, password, mechanisms, base64.b64encode(os.urandom(18)).decode())
        else:
            raise ProbeError(f"server asks for authentication method {code}, probe cannot")


def postgres(
    host: str,
    port: int,
    timeout: float = 5.0,
    user: str = "kflow",
    password: str = "kflow",
    database: str = "kflow",
) -> str:
    """A startup message for ``user``/``database``, the password login the server asks for
    (SCRAM-SHA-256, MD5 or cleartext), ReadyForQuery, then ``SHOW wal_level``."""

    def probe(sock: socket.socket) -> str:
        params = {"user": user, "database": database, "application_name": "kflow-devstack"}
        body = struct.pack(">i", 196608)  # protocol 3.0
        body += b"".join(f"{key}\0{value}\0".encode() for key, value in params.items()) + b"\0"
        sock.sendall(struct.pack(">i", 4 + len(body)) + body)
        method = _pg_authenticate(sock, user, password)
        settings: dict[str, str] = {}
        rows: list[str] = []
        queried = False
        while True:
            kind, body = _pg_message(sock)
            if kind == b"E":
                raise ProbeError(_pg_error(body))
            if kind == b"S":
                name, value = body.split(b"\0")[:2]
                settings[name.decode()] = value.decode()
            elif kind == b"D":
                (size,) = struct.unpack_from(">i", body, 2)
                rows.append(body[6 : 6 + size].decode())
            elif kind == b"Z":
                if queried:
                    break
                _pg_send(sock, b"Q", b"SHOW wal_level\0")
                queried = True
        _pg_send(sock, b"X", b"")
        version = settings.get("server_version", "?").split()[0]
        wal_level = rows[0] if rows else "?"
        return f"PostgreSQL {version}, {user} logged in ({method}), wal_level={wal_level}"

    return _guard(probe, host, port, timeout)


# --- MySQL client/server protocol (MariaDB) ------------------------------------------------

_MYSQL_CAPS = 0x1 | 0x8 | 0x200 | 0x8000 | 0x80000  # long password, with db, 4.1, secure, plugin


def _mysql_packet(sock: socket.socket) -> tuple[int, bytes]:
    head = _recv_exact(sock, 4)
    size = head[0] | head[1] << 8 | head[2] << 16
    return head[3], _recv_exact(sock, size)


def _mysql_send(sock: socket.socket, sequence: int, payload: bytes) -> None:
    sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([sequence & 0xFF]) + payload)


def _mysql_error(payload: bytes) -> str:
    (code,) = struct.unpack_from("<H", payload, 1)
    message = payload[9:] if payload[3:4] == b"#" else payload[3:]
    return f"error {code}: {message.decode(errors='replace')}"


def _native_password(password: str, scramble: bytes) -> bytes:
    """mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password)))."""
    if not password:
        return b""
    stage1 = hashlib.sha1(password.encode()).digest()
    mix = hashlib.sha1(scramble + hashlib.sha1(stage1).digest()).digest()
    return bytes(a ^ b for a, b in zip(stage1, mix, strict=True))


def mysql(
    host: str,
    port: int,
    timeout: float = 5.0,
    user: str = "kflow",
    password: str = "kflow",
    database: str = "kflow",
) -> str:
    """The server greeting (handshake v10) and a mysql_native_password login of ``user`` to
    ``database`` (following an auth switch if asked), then COM_QUIT."""

    def probe(sock: socket.socket) -> str:
        sequence, greeting = _mysql_packet(sock)
        if greeting[0] == 0xFF:
            raise ProbeError(f"server refused the connection: {_mysql_error(greeting)}")
        if greeting[0] != 10:
            raise ProbeError(f"greeting speaks protocol {greeting[0]}, not 10")
        end = greeting.index(b"\0", 1)
        version = greeting[1:end].decode()
        pos = end + 1 + 4  # connection id
        scramble = greeting[pos : pos + 8]
        pos += 8 + 1 + 2 + 1 + 2 + 2  # filler, caps low, charset, status, caps high
        scramble_size = greeting[pos]
        pos += 1 + 10
        scramble += greeting[pos : pos + max(13, scramble_size - 8) - 1]
        response = struct.pack("<IIB", _MYSQL_CAPS, 1 << 24, 45) + b"\0" * 23
        auth = _native_password(password, scramble)
        response += user.encode() + b"\0" + bytes([len(auth)]) + auth
        response += database.encode() + b"\0" + b"mysql_native_password\0"
        _mysql_send(sock, sequence + 1, response)
        sequence, answer = _mysql_packet(sock)
        if answer[0] == 0xFE:  # auth switch request: plugin name, then its scramble
            plugin, _, data = answer[1:].partition(b"\0")
            if plugin != b"mysql_native_password":
                raise ProbeError(f"server asks for auth plugin {plugin.decode()}")
            _mysql_send(sock, sequence + 1, _native_password(password, data.rstrip(b"\0")))
            sequence, answer = _mysql_packet(sock)
        if answer[0] == 0xFF:
            raise ProbeError(f"login refused: {_mysql_error(answer)}")
        if answer[0] != 0x00:
            raise ProbeError(f"expected an OK packet after login, got 0x{answer[0]:02x}")
        _mysql_send(sock, 0, b"\x01")  # COM_QUIT
        # MariaDB prefixes its version with "5.5.5-" for old replication clients.
        return f"{version.removeprefix('5.5.5-')}, {user} logged in to {database}"

    return _guard(probe, host, port, timeout)


# --- NATS (client protocol) ----------------------------------------------------------------


class _Lines:
    """CRLF-terminated lines and sized payloads from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ProbeError("connection closed by the server")
        self.buffer += chunk

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, rest = bytes(self.buffer).partition(b"\r\n")
        self.buffer = bytearray(rest)
        return line.decode(errors="replace")

    def payload(self, size: int) -> bytes:
        while len(self.buffer) < size + 2:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[: size + 2]
        return data


def nats(host: str, port: int, timeout: float = 5.0) -> str:
    """INFO (must say ``jetstream: true``), CONNECT + PING answered by PONG, then a JetStream
    ``$JS.API.INFO`` request answered with the account's info."""

    def probe(sock: socket.socket) -> str:
        lines = _Lines(sock)
        first = lines.line()
        if not first.startswith("INFO "):
            raise ProbeError(f"expected INFO, got {first[:80]!r}")
        info = json.loads(first[5:])
        if not info.get("jetstream"):
            raise ProbeError(f"nats-server {info.get('version')} runs without JetStream")
        connect = {"verbose": False, "pedantic": False, "name": "kflow-devstack", "lang": "py"}
        inbox = f"_INBOX.kflow-devstack.{os.getpid()}"
        sock.sendall(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
        answer = lines.line()
        if answer != "PONG":
            raise ProbeError(f"expected PONG, got {answer[:120]!r}")
        sock.sendall(f"SUB {inbox} 1\r\nPUB $JS.API.INFO {inbox} 0\r\n\r\n".encode())
        while True:
            line = lines.line()
            if line == "PING":
                sock.sendall(b"PONG\r\n")
                continue
            if line.startswith("-ERR"):
                raise ProbeError(f"server error: {line}")
            if line.startswith("MSG "):
                reply = json.loads(lines.payload(int(line.split()[-1])))
                break
        if "error" in reply:
            raise ProbeError(f"JetStream account info failed: {reply['error']}")
        streams = reply.get("streams", "?")
        return f"nats-server {info.get('version')}, JetStream on ({streams} streams)"

    return _guard(probe, host, port, timeout)


# --- Redis (RESP) --------------------------------------------------------------------------


def redis(host: str, port: int, timeout: float = 5.0) -> str:
    """PING answered by +PONG, then ``INFO server`` for the version."""

    def probe(sock: socket.socket) -> str:
        lines = _Lines(sock)
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        answer = lines.line()
        if answer != "+PONG":  # -LOADING while the append-only file is replayed
            raise ProbeError(f"PING answered {answer[:120]!r}")
        sock.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        head = lines.line()
        if not head.startswith("$"):
            raise ProbeError(f"INFO answered {head[:120]!r}")
        text = lines.payload(int(head[1:])).decode(errors="replace")
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        return f"Redis {fields.get('redis_version', '?')}, PING answered PONG"

    return _guard(probe, host, port, timeout)
