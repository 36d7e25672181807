"""The Debezium trigger types validate as Kestra's: defaults, refused values, located errors."""

from __future__ import annotations

import textwrap

from kflow.flow import Flow, load_flow_text

HEAD = """
id: f
namespace: dev
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.data }}"
triggers:
  - id: cdc
"""


def flow_text(kind: str, extra: str) -> str:
    body = f"type: io.kestra.plugin.debezium.{kind}.RealtimeTrigger\n" + textwrap.dedent(extra)
    return HEAD + textwrap.indent(body, "    ")


def load(text: str) -> Flow:
    result = load_flow_text(text, "flow.yaml")
    assert [d.format() for d in result.errors] == []
    assert result.flow is not None
    return result.flow


def problems(text: str) -> list[str]:
    result = load_flow_text(text, "flow.yaml")
    return [d.format().removeprefix("flow.yaml:") for d in result.diagnostics]


PG = "hostname: 127.0.0.1\nusername: kflow\npassword: kflow\ndatabase: shop\n"
MY = "hostname: 127.0.0.1\nusername: kflow\npassword: kflow\n"


def test_postgres_defaults_are_kestras() -> None:
    props = load(flow_text("postgres", PG)).triggers[0].props
    assert props["port"] == "5432"
    assert props["slotName"] == "kestra"
    assert props["publicationName"] == "kestra_publication"
    assert props["pluginName"] == "PGOUTPUT"
    assert props["snapshotMode"] == "INITIAL"
    assert (props["format"], props["deleted"], props["key"], props["metadata"]) == (
        "INLINE",
        "ADD_FIELD",
        "ADD_FIELD",
        "ADD_FIELD",
    )
    assert props["splitTable"] == "TABLE"
    assert props["stateName"] == "debezium-state"


def test_a_numeric_port_is_read_as_text() -> None:
    props = load(flow_text("postgres", PG + "port: 6543\n")).triggers[0].props
    assert props["port"] == "6543"


def test_postgres_needs_a_database_and_refuses_wal2json() -> None:
    found = problems(flow_text("postgres", MY + "pluginName: WAL2JSON\n"))
    assert any("database" in p and "required" in p for p in found), found
    assert any("pluginName WAL2JSON is not supported yet" in p for p in found), found


def test_bad_slot_name_and_port_are_located() -> None:
    found = problems(flow_text("postgres", PG + "slotName: Bad-Slot\nport: '99999'\n"))
    assert any(p.startswith("15:") and "slotName" in p for p in found), found
    assert any("'99999' is not a port number" in p for p in found), found


def test_included_and_excluded_tables_together_are_refused() -> None:
    found = problems(flow_text("postgres", PG + "includedTables: public.a\nexcludedTables: x\n"))
    assert any("not both" in p for p in found), found


def test_mysql_defaults_and_deprecated_snapshot_modes() -> None:
    props = load(flow_text("mysql", MY)).triggers[0].props
    assert props["port"] == "3306" and props["snapshotMode"] == "INITIAL"
    found = problems(flow_text("mysql", MY + "snapshotMode: SCHEMA_ONLY\n"))
    assert any("deprecated" in p and "NO_DATA" in p for p in found), found


def test_mysql_server_id_must_be_a_number() -> None:
    found = problems(flow_text("mysql", MY + "serverId: abc\n"))
    assert any("serverId must be a number" in p for p in found), found
    assert problems(flow_text("mysql", MY + "serverId: '5400'\n")) == []
