"""NATS connection settings as Kestra reads them, secrets masked, errors in one line."""

from __future__ import annotations

import errno

import pytest
from nats import errors as ne
from nats.js import errors as je

from kflow.connectors.masking import forget_secrets, mask
from kflow.connectors.nats import NatsError, error_line, settings_from, url_problem


@pytest.fixture(autouse=True)
def _no_secrets() -> None:
    forget_secrets()


def test_a_url_without_scheme_gets_nats() -> None:
    settings = settings_from({"url": "localhost:4222"}, "t")
    assert settings.servers == ("nats://localhost:4222",)
    assert settings.address == "localhost:4222"


def test_a_comma_list_is_a_cluster_and_the_port_defaults_to_4222() -> None:
    settings = settings_from({"url": "nats://a:4222, b , tls://c:4443"}, "t")
    assert settings.servers == ("nats://a:4222", "nats://b", "tls://c:4443")
    assert settings.address == "a:4222,b:4222,c:4443"


def test_credentials_never_show_in_the_address_nor_in_messages() -> None:
    settings = settings_from(
        {"url": "nats://user:pa55word@h:4222,nats://t0ken-value@g:4222", "password": None}, "t"
    )
    assert settings.address == "h:4222,g:4222"
    assert mask("pa55word and t0ken-value") == "*** and ***"
    settings_from({"url": "h", "username": "u", "password": "s3cret", "token": "tok-123"}, "t")
    assert mask("u s3cret tok-123") == "u *** ***"


def test_creds_lines_are_secrets() -> None:
    seed = "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY"
    creds = f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    settings = settings_from({"url": "h", "creds": creds}, "t")
    assert settings.creds == creds
    assert mask(f"seed {seed}") == "seed ***"


def test_username_and_password_go_together() -> None:
    with pytest.raises(NatsError, match="username and password go together; password is"):
        settings_from({"url": "h", "username": "u"}, "trigger 'w'")


def test_a_missing_or_bad_url() -> None:
    with pytest.raises(NatsError, match="trigger 'w': missing url"):
        settings_from({}, "trigger 'w'")
    with pytest.raises(NatsError, match="scheme http:// is not supported"):
        settings_from({"url": "http://h:1"}, "trigger 'w'")
    assert url_problem(" , ") is not None
    assert url_problem("nats://:4222") is not None
    assert url_problem("nats://u:pw@h:x") == "'nats://***@h:x' is not a valid URL: " + (
        "Port could not be cast to integer value as 'x'"
    )


@pytest.mark.parametrize(
    ("exc", "line", "retryable"),
    [
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            "cannot reach NATS at h:4222: connection refused",
            True,
        ),
        (
            ne.AuthorizationError(),
            "NATS at h:4222 refused the login (authorization violation)",
            False,
        ),
        (ne.NoServersError(), "cannot reach NATS at h:4222", True),
        (ne.TimeoutError(), "NATS at h:4222 did not answer in time", True),
        (ne.NoRespondersError(), "NATS at h:4222: JetStream is not enabled", False),
        (
            je.BadRequestError(code=400, err_code=10059, description="stream name in use"),
            "NATS at h:4222: JetStream refused: stream name in use (error 10059)",
            False,
        ),
    ],
)
def test_driver_errors_become_one_line(exc: BaseException, line: str, retryable: bool) -> None:
    message, again = error_line(exc, "h:4222")
    assert message.startswith(line) and "\n" not in message
    assert again is retryable
