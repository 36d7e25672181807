"""Scenario 7: credentials from the environment never show in kflow's output.

A flow reads a token and a MongoDB password with ``secret('X')`` (``SECRET_X``, base64, as
Kestra's open-source edition) and a Cassandra password with ``{{ envs.x }}`` (``ENV_X``).
It logs the token, connects to servers that cannot be reached with those passwords, and
fails with a message that renders them. Neither the plain log nor ``--json`` output nor any
error message may contain a secret value; the masked text must still be there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

from testkit.kafka import create_topic, send_all
from testkit.orders import encoded, order
from testkit.processes import run_args, running

TOKEN = "tok-S3cr3t-9f8e7d"
MONGO_PASSWORD = "mongo-P4ss-1a2b"
CASSANDRA_PASSWORD = "cass-P4ss-3c4d"
SECRETS = (TOKEN, MONGO_PASSWORD, CASSANDRA_PASSWORD)

FLOW = """
id: secrets_flow
namespace: dev

tasks:
  - id: log_token
    type: io.kestra.plugin.core.log.Log
    message: "calling the API with token {{ secret('API_TOKEN') }}"

  - id: store
    type: io.kestra.plugin.mongodb.InsertOne
    allowFailure: true
    connection:
      uri: "mongodb://kflow:{{ secret('MONGO_PW') }}@127.0.0.1:1/?serverSelectionTimeoutMS=1000"
    database: kestra
    collection: never_written
    document: {"order_id": "{{ trigger.value.order_id }}"}

  - id: lookup
    type: io.kestra.plugin.cassandra.standard.Query
    allowFailure: true
    session:
      endpoints:
        - hostname: 127.0.0.1
          port: 1
      localDatacenter: datacenter1
      username: kflow
      password: "{{ envs.cassandra_password }}"
    cql: SELECT release_version FROM system.local

  - id: reject
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "rejected: {{ secret('API_TOKEN') }}, password {{ envs.cassandra_password }}"

triggers:
  - id: orders
    type: io.kestra.plugin.kafka.RealtimeTrigger
    topic: unused
    valueDeserializer: JSON
    properties:
      bootstrap.servers: 127.0.0.1:9092
    groupId: unused
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_secrets_are_masked_in_logs_json_and_errors(
    kafka_bootstrap: str, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    topic = unique_name("secrets")
    create_topic(kafka_bootstrap, topic)
    row = order("sec", 0)
    send_all(kafka_bootstrap, topic, [(None, encoded(row))])
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    env = {
        "SECRET_API_TOKEN": b64(TOKEN),
        "SECRET_MONGO_PW": b64(MONGO_PASSWORD),
        "ENV_CASSANDRA_PASSWORD": CASSANDRA_PASSWORD,
    }
    outputs: dict[str, tuple[str, str]] = {}
    for mode in ("json", "plain"):
        args = run_args(kafka_bootstrap, topic, unique_name("g"), "--max-executions", "1")
        args += ["--timeout", "60"]
        with running(flow, args, tmp_path / mode, env, json_output=mode == "json") as run:
            assert run.wait(90) == 0, run.stderr()[-2000:]
        outputs[mode] = (run.stdout(), run.stderr())

    for mode, (out, err) in outputs.items():
        for secret in SECRETS:
            assert secret not in out, (mode, secret, out[-2000:])
            assert secret not in err, (mode, secret, err[-2000:])

    execution = json.loads(outputs["json"][0].splitlines()[0])
    assert execution["state"] == "FAILED"
    runs = {r["taskId"]: r for r in execution["taskRuns"]}
    assert runs["log_token"]["state"] == "SUCCESS"
    # allowed failures end WARNING (as in Kestra) and keep their error, masked
    assert runs["store"]["state"] == "WARNING" and "127.0.0.1:1" in runs["store"]["error"]
    assert "kflow:***@" in runs["store"]["error"]
    assert runs["lookup"]["state"] == "WARNING" and "127.0.0.1:1" in runs["lookup"]["error"]
    assert execution["error"] == "task reject: rejected: ***, password ***"
    plain = outputs["plain"][0]
    assert "calling the API with token ***" in plain
    assert "rejected: ***, password ***" in plain
