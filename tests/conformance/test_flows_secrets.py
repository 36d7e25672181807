"""secret('x'): environment variables SECRET_<X>, base64-encoded, as Kestra's open source
SecretService reads them (core/src/main/java/io/kestra/core/secret/SecretService.java).

kflow masks every secret value it read in what it prints (Kestra masks them in logs too).
Each case names the Kestra test, flow or source file (kestra-io/kestra) it follows; the
flows are written anew after Kestra's test flows.
"""

from __future__ import annotations

import base64
import json

import pytest
from flow_runs import run

from kflow.console.records import execution_json


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


LONG = "passwordveryveryveyrlong" * 5


def wrapped(text: str, width: int = 76, newline: str = "\n") -> str:
    """``text`` base64-encoded and wrapped as ``base64`` (and MIME) tools write it."""
    encoded = b64(text)
    return newline.join(encoded[i : i + width] for i in range(0, len(encoded), width))


SECRETS_FLOW = """
    id: secrets
    namespace: conformance
    tasks:
      - id: get-secret
        type: io.kestra.plugin.core.debug.Return
        format: "{{ json(secret('my_secret')).secretKey }}"
      - id: log-secret
        type: io.kestra.plugin.core.log.Log
        message: "{{ secret('my_secret') }}"
      - id: get-multiline-secret
        type: io.kestra.plugin.core.debug.Return
        format: "{{ secret('new_line') }}"
"""

ENVIRON = {
    "SECRET_MY_SECRET": b64('{"secretKey":"secretValue"}'),
    "SECRET_NEW_LINE": wrapped(LONG),
}


# kestra: core/src/test/resources/flows/valids/secrets.yaml, SecretFunctionTest.getSecret;
#         build.gradle (SECRET_MY_SECRET, SECRET_NEW_LINE)
def test_secrets_flow_reads_upper_cased_env_vars_and_wrapped_base64() -> None:
    assert "\n" in ENVIRON["SECRET_NEW_LINE"]
    ex, logs = run(SECRETS_FLOW, environ=ENVIRON)
    assert ex.state.value == "SUCCESS", ex.error
    assert ex.outputs["get-secret"] == {"value": "secretValue"}
    assert ex.outputs["get-multiline-secret"] == {"value": LONG}
    assert logs == ['{"secretKey":"secretValue"}']


# kestra: SecretFunctionTest.getSecret (the logged secret is masked: "***"); kflow masks
#         every secret it read in what it prints
def test_secret_values_are_masked_in_printed_executions() -> None:
    ex, _ = run(SECRETS_FLOW, environ=ENVIRON)
    assert ex.outputs["get-multiline-secret"] == {"value": LONG}  # the value itself is kept
    printed = json.loads(execution_json(ex))
    assert printed["outputs"]["get-multiline-secret"] == {"value": "***"}
    # Only a secret's whole value is a secret: a part taken out of it prints as it is.
    assert printed["outputs"]["get-secret"] == {"value": "secretValue"}


# kestra: core/src/main/java/io/kestra/core/secret/SecretService.java (the name after
#         SECRET_ is upper-cased, and so is the key asked for)
@pytest.mark.parametrize(
    ("variable", "key"),
    [
        pytest.param("SECRET_DB_PASSWORD", "db_password", id="lower-key"),
        pytest.param("SECRET_DB_PASSWORD", "Db_Password", id="mixed-key"),
        pytest.param("SECRET_db_password", "DB_PASSWORD", id="lower-variable"),
    ],
)
def test_secret_keys_are_compared_upper_cased(variable: str, key: str) -> None:
    ex, _ = run(
        f"""
        id: secret-case
        namespace: conformance
        tasks:
          - id: read
            type: io.kestra.plugin.core.debug.Return
            format: "{{{{ secret('{key}') }}}}"
        """,
        environ={variable: b64("pa55-word")},
    )
    assert ex.outputs["read"] == {"value": "pa55-word"}


# kestra: core/src/main/java/io/kestra/core/secret/SecretService.java (every line break,
#         \R, is removed before decoding)
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_line_breaks_inside_the_base64_value_are_ignored(newline: str) -> None:
    ex, _ = run(
        """
        id: secret-lines
        namespace: conformance
        tasks:
          - id: read
            type: io.kestra.plugin.core.debug.Return
            format: "{{ secret('long') }}"
        """,
        environ={"SECRET_LONG": wrapped(LONG, width=20, newline=newline) + newline},
    )
    assert ex.outputs["read"] == {"value": LONG}


# kestra: core/src/main/java/io/kestra/core/secret/SecretService.java (java.util.Base64's
#         decoder does not require the = padding)
def test_base64_without_padding_is_accepted() -> None:
    encoded = b64("ab").rstrip("=")
    assert len(encoded) % 4
    ex, _ = run(
        """
        id: secret-padding
        namespace: conformance
        tasks:
          - id: read
            type: io.kestra.plugin.core.debug.Return
            format: "{{ secret('short') }}"
        """,
        environ={"SECRET_SHORT": encoded},
    )
    assert ex.outputs["read"] == {"value": "ab"}


# kestra: SecretFunctionTest.getUnknownSecret (a missing secret is an error)
def test_a_missing_secret_fails_the_task() -> None:
    ex, _ = run(
        """
        id: secret-missing
        namespace: conformance
        tasks:
          - id: read
            type: io.kestra.plugin.core.debug.Return
            format: "{{ secret('unknown_secret_key') }}"
        """,
        environ={},
    )
    assert ex.state.value == "FAILED"
    error = ex.task_runs[0].error or ""
    assert "cannot find secret 'unknown_secret_key'" in error
    assert "SECRET_UNKNOWN_SECRET_KEY" in error
