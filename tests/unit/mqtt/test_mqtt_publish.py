"""The Publish task's messages: what ``from`` holds, and how each message is encoded."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kflow.errors import TaskError
from kflow.flow import load_flow_text
from kflow.plugins.mqtt_tasks import Publish, messages_of, read_file_messages
from kflow.storage import STORAGE_DIR_ENV, LocalStorage


def publish_task(serde: str, extra: str = "") -> Publish:
    text = f"""
        id: f
        namespace: dev
        tasks:
          - id: pub
            type: io.kestra.plugin.mqtt.Publish
            server: tcp://127.0.0.1:1883
            topic: out
            serdeType: {serde}
            from: x
    """
    result = load_flow_text(textwrap.dedent(text) + textwrap.indent(extra, " " * 4), "f.yaml")
    assert result.flow is not None, [d.format() for d in result.errors]
    return Publish(result.flow.tasks[0], None)


@pytest.mark.parametrize(
    ("value", "serde", "messages"),
    [
        ({"a": 1}, "JSON", [{"a": 1}]),
        ([{"a": 1}, {"a": 2}], "JSON", [{"a": 1}, {"a": 2}]),
        ('[{"a": 1}, 2]', "JSON", [{"a": 1}, 2]),  # a rendered list: one message each
        ('{"a": 1}', "JSON", [{"a": 1}]),
        ("plain", "JSON", ["plain"]),
        ('["a", "b"]', "STRING", ['["a", "b"]']),  # STRING: the text as it is
        (["a", "b"], "STRING", ["a", "b"]),
        (None, "JSON", [None]),
    ],
)
def test_what_from_holds(value: object, serde: str, messages: list[object]) -> None:
    assert messages_of(value, serde) == messages


def test_a_storage_file_is_one_message_per_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORAGE_DIR_ENV, str(tmp_path))
    uri, count = LocalStorage(tmp_path).write_records(
        "kestra:///dev/f", [{"n": 1}, {"n": 2}, "three"]
    )
    assert count == 3
    assert read_file_messages(uri) == [{"n": 1}, {"n": 2}, "three"]


@pytest.mark.parametrize(
    ("serde", "message", "payload"),
    [
        ("JSON", {"a": "é"}, '{"a":"é"}'.encode()),
        ("JSON", '{"a": 1}', b'{"a":1}'),  # a string holding JSON is sent as that JSON
        ("JSON", "text", b'"text"'),
        ("STRING", "héllo", "héllo".encode()),
        ("STRING", {"a": 1}, b'{"a": 1}'),
        ("BYTES", "raw", b"raw"),
        ("JSON", None, None),  # an empty payload: with retain, clears the retained message
    ],
)
def test_messages_are_encoded_by_serde_type(serde: str, message: object, payload: object) -> None:
    assert publish_task(serde)._payload(message) == payload


def test_correlation_data_must_be_base64() -> None:
    task = publish_task("JSON")
    assert task._correlation("cmVxLTc=") == b"req-7"
    assert task._correlation(None) is None
    with pytest.raises(TaskError, match="correlationData must be Base64"):
        task._correlation("not base64!")
