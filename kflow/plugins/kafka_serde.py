"""Kafka (de)serializers by Kestra's names: STRING, JSON, INTEGER, LONG, SHORT, FLOAT,
DOUBLE, BYTES (BYTE_ARRAY, BYTE_BUFFER), UUID, VOID.

Numbers use Kafka's own big-endian encodings; UUID is the 36-character text
form, as Kafka's UUID serde writes it. AVRO and PROTOBUF are refused at
validation time.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from collections.abc import Callable
from typing import Any

from kflow import json_codec
from kflow.errors import DataError, NotSupportedError

Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes | None]

_NUMBERS = {
    "SHORT": struct.Struct(">h"),
    "INTEGER": struct.Struct(">i"),
    "LONG": struct.Struct(">q"),
    "FLOAT": struct.Struct(">f"),
    "DOUBLE": struct.Struct(">d"),
}
_BYTES = {"BYTES", "BYTE_ARRAY", "BYTE_BUFFER"}


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not valid UTF-8 at byte {exc.start}") from exc


def _decode_json(data: bytes) -> Any:
    text = _decode_text(data)
    try:
        return json_codec.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"not JSON (line {exc.lineno} column {exc.colno}: {exc.msg}): {_preview(text)}"
        ) from exc
    except RecursionError as exc:
        raise DataError(f"JSON nested too deeply to read: {_preview(text)}") from exc


def _preview(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def decoder(name: str) -> Decoder:
    """The function that turns record bytes into a ``trigger`` value for a Kestra serde name."""
    name = name.upper()
    if name == "STRING":
        return _decode_text
    if name == "JSON":
        return _decode_json
    if name in _NUMBERS:
        fmt = _NUMBERS[name]

        def number(data: bytes) -> Any:
            if len(data) != fmt.size:
                raise DataError(f"a {name} needs {fmt.size} bytes, got {len(data)}")
            return fmt.unpack(data)[0]

        return number
    if name in _BYTES:
        return lambda data: base64.b64encode(data).decode("ascii")
    if name == "UUID":

        def to_uuid(data: bytes) -> str:
            text = _decode_text(data)
            try:
                return str(uuid.UUID(text))
            except ValueError as exc:
                raise DataError(f"not a UUID: {_preview(text)}") from exc

        return to_uuid
    if name == "VOID":
        return lambda data: None
    raise NotSupportedError(f"deserializer {name} is not supported yet")


def encoder(name: str) -> Encoder:
    """The function that turns a rendered value into record bytes for a Kestra serde name."""
    name = name.upper()
    if name == "STRING":
        return lambda v: None if v is None else (v if isinstance(v, str) else _json(v)).encode()
    if name == "JSON":
        return lambda v: None if v is None else _json(_maybe_json(v)).encode()
    if name in _NUMBERS:
        fmt = _NUMBERS[name]
        cast: Callable[[Any], Any] = float if name in ("FLOAT", "DOUBLE") else int
        return lambda v: None if v is None else fmt.pack(cast(v))
    if name in _BYTES:
        return lambda v: None if v is None else (v if isinstance(v, bytes) else str(v).encode())
    if name == "UUID":
        return lambda v: None if v is None else str(uuid.UUID(str(v))).encode()
    if name == "VOID":
        return lambda v: None
    raise NotSupportedError(f"serializer {name} is not supported yet")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _maybe_json(value: Any) -> Any:
    """A string that holds JSON is sent as that JSON, not as a quoted string."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def file_decoder(name: str) -> Decoder:
    """As :func:`decoder`, for records written to a storage file (``Consume``): the byte kinds
    stay bytes (an Ion blob, as Kestra writes a byte array) instead of base64 text."""
    if name.upper() in _BYTES:
        return bytes
    return decoder(name)
