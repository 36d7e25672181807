"""Pure logic of the Redis source and tasks: URLs, error lines, values in and out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis import exceptions as ex

from kflow.connectors.masking import forget_secrets
from kflow.connectors.redis import RedisError, RedisSettings, error_line, settings_from
from kflow.engine.source import SourceOptions
from kflow.errors import TaskError
from kflow.flow.model import TriggerDef
from kflow.flow.registry import default_registry
from kflow.plugins.redis_record import RedisElement
from kflow.plugins.redis_tasks import encode, key_list, push_values, set_arguments
from kflow.plugins.redis_trigger import RealtimeTrigger, default_base


@pytest.fixture(autouse=True)
def _no_secrets() -> None:
    forget_secrets()


def test_settings_of_a_url_and_the_password_is_masked() -> None:
    settings = settings_from({"url": "rediss://app:p%40ss@cache.local:6380/3"}, "trigger 'w'")
    assert settings == RedisSettings("cache.local", 6380, 3, "app", "p@ss", tls=True)
    assert settings.describe() == "rediss://cache.local:6380/3"
    assert settings_from({"url": "redis://h"}, "x") == RedisSettings("h")
    message, retryable = error_line(ex.ResponseError("WRONGPASS for p@ss"), settings.address)
    assert (message, retryable) == (
        "Redis at cache.local:6380 refused the login: WRONGPASS for ***",
        False,
    )


def test_bad_urls_are_one_line_naming_the_trigger() -> None:
    with pytest.raises(RedisError, match=r"^trigger 'w': missing url$"):
        settings_from({}, "trigger 'w'")
    with pytest.raises(RedisError, match=r"^trigger 'w': url: the URL names no host$"):
        settings_from({"url": "redis:///0"}, "trigger 'w'")
    with pytest.raises(RedisError, match=r"^x: url: not a valid URL: "):
        settings_from({"url": "redis://h:99999/0"}, "x")


@pytest.mark.parametrize(
    ("exc", "connected", "line", "retryable"),
    [
        (
            ex.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connect call failed."),
            False,
            "cannot reach Redis at h:1: connection refused",
            True,
        ),
        (
            ex.ConnectionError("Connection closed by server."),
            True,
            "lost the connection to Redis at h:1: Connection closed by server",
            True,
        ),
        (
            ex.TimeoutError("Timeout reading from socket"),
            True,
            "Redis at h:1 did not answer in time",
            True,
        ),
        (
            ex.BusyLoadingError("Redis is loading"),
            True,
            "Redis at h:1 is loading its data set",
            True,
        ),
        (
            ex.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
            True,
            "Redis at h:1: WRONGTYPE Operation against a key holding the wrong kind of value",
            False,
        ),
        (
            ex.AuthenticationError("invalid username-password pair"),
            False,
            "Redis at h:1 refused the login: invalid username-password pair",
            False,
        ),
    ],
)
def test_driver_errors_become_one_line(
    exc: Exception, connected: bool, line: str, retryable: bool
) -> None:
    assert error_line(exc, "h:1", connected=connected) == (line, retryable)


def test_processing_list_names() -> None:
    assert default_base("orders", "dev", "blog", "watch") == "orders:kflow:dev.blog.watch"
    spec = default_registry().lookup("io.kestra.plugin.redis.list.RealtimeTrigger")
    assert spec is not None
    props = {"url": "redis://h/0", "key": "orders"}
    trigger = TriggerDef("watch", spec.name, spec, props)
    source = RealtimeTrigger.from_trigger(
        trigger, {"flow": {"id": "blog", "namespace": "dev"}}, options=_options()
    )
    assert source.processing == "orders:kflow:dev.blog.watch:1"
    own = RealtimeTrigger("watch", {**props, "processingList": "mine"})
    assert own.processing == "mine"
    with pytest.raises(RedisError, match="processingList must not be the list itself"):
        RealtimeTrigger("watch", {**props, "processingList": "orders"})
    with pytest.raises(RedisError, match="serdeType must be STRING or JSON, got AVRO"):
        RealtimeTrigger("watch", {**props, "serdeType": "avro"})


def _options() -> SourceOptions:
    return SourceOptions()


def test_elements_decode_as_kestra_gives_them() -> None:
    spec = default_registry().lookup("io.kestra.plugin.redis.list.RealtimeTrigger")
    assert spec is not None
    as_json = TriggerDef("w", spec.name, spec, {"serdeType": "JSON"})
    assert RealtimeTrigger.event_record(as_json, '{"a": [1]}', None).variables() == {
        "value": {"a": [1]}
    }
    as_text = TriggerDef("w", spec.name, spec, {})
    assert RealtimeTrigger.event_record(as_text, '{"a": 1}', None).value == '{"a": 1}'
    bad = RealtimeTrigger.event_record(as_json, "{oops", None)
    assert bad.value is None and bad.error is not None
    assert bad.error.startswith("cannot decode --event as JSON: not JSON (line 1 column 2")
    element = RedisElement(value="v", list_key="orders", processing="p", seq=4, timestamp_ms=9)
    assert element.label() == "list orders #4"
    assert element.order_key() is None
    assert element.coordinates() == {
        "list": "orders",
        "seq": 4,
        "processingList": "p",
        "timestamp": 9,
    }


def test_push_values_reads_lists_json_arrays_and_single_values() -> None:
    assert push_values(["a", {"b": 1}]) == ["a", {"b": 1}]
    assert push_values(' ["a", 2] ') == ["a", 2]
    assert push_values("[not json") == ["[not json"]
    assert push_values("plain") == ["plain"]
    assert push_values({"order": 1}) == [{"order": 1}]
    assert key_list('["a", "b"]') == ["a", "b"]
    assert key_list("one") == ["one"]
    assert key_list(["a", None, ""]) == ["a"]


def test_values_are_encoded_as_the_rest_of_kflow_encodes_them() -> None:
    assert encode("text", "STRING", "from[0]") == b"text"
    assert encode({"a": 1}, "STRING", "from[0]") == b'{"a":1}'
    assert encode('{"a": 1}', "JSON", "from[0]") == b'{"a":1}'  # not quoted again
    assert encode("O'Brien", "JSON", "from[0]") == b'"O\'Brien"'
    assert encode(None, "JSON", "from[0]") == b"null"
    assert encode(None, "STRING", "from[0]") == b""


def test_set_options_become_set_arguments() -> None:
    assert set_arguments({}) == {}
    assert set_arguments({"expirationDuration": "PT1M", "mustNotExist": True}) == {
        "px": 60000,
        "nx": True,
    }
    assert set_arguments({"expirationDuration": 1.5, "keepTtl": "true", "mustExist": False}) == {
        "px": 1500,
        "keepttl": True,
    }
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert set_arguments({"expirationDate": at.isoformat()}) == {"pxat": int(at.timestamp() * 1000)}
    with pytest.raises(TaskError, match="needs a time zone"):
        set_arguments({"expirationDate": "2030-01-02T03:04:05"})
    with pytest.raises(TaskError, match="not both"):
        set_arguments({"expirationDuration": "PT1S", "expirationDate": at.isoformat()})
    with pytest.raises(TaskError, match="positive duration"):
        set_arguments({"expirationDuration": "soon"})
