"""The MySQL trigger's own settings: snapshot modes, the server id, --event, row order."""

from __future__ import annotations

from pathlib import Path

import pytest

from kflow.errors import FlowError
from kflow.plugins.debezium_mysql import RealtimeTrigger, default_server_id, snapshot_mode
from kflow.plugins.debezium_mysql_record import BinlogPosition, MysqlChange, key_text
from kflow.plugins.debezium_shape import Change


def test_snapshot_modes_map_the_deprecated_names_as_debezium_does() -> None:
    assert snapshot_mode(None, "t") == "INITIAL"
    assert snapshot_mode("schema_only", "t") == "NO_DATA"
    assert snapshot_mode("SCHEMA_ONLY_RECOVERY", "t") == "RECOVERY"
    with pytest.raises(FlowError, match="snapshotMode 'SOMETIMES'"):
        snapshot_mode("SOMETIMES", "t")


def test_the_default_server_id_is_stable_and_in_kestras_range() -> None:
    ids = {default_server_id("ns", f"flow{i}", "t") for i in range(50)}
    assert all(5400 <= i <= 6400 for i in ids) and len(ids) > 40
    assert default_server_id("ns", "f", "t") == default_server_id("ns", "f", "t")


def test_event_reads_the_data_as_json() -> None:
    record = RealtimeTrigger.event_record(None, '{"id": 1}', "shop.orders")
    assert record.variables() == {"stream": "shop.orders", "data": {"id": 1}}
    bad = RealtimeTrigger.event_record(None, "{nope", None)
    assert bad.error is not None and "not JSON" in bad.error


def change(table: str, key: dict[str, int] | None) -> MysqlChange:
    c = Change("u", "shop", table, {}, {}, key, {"file": "b.000001", "pos": 4}, 0)
    return MysqlChange(value={}, change=c, row_key=key_text(key))


def test_changes_of_one_row_share_an_order_key_others_do_not() -> None:
    assert change("orders", {"id": 1}).order_key() == change("orders", {"id": 1}).order_key()
    assert change("orders", {"id": 1}).order_key() != change("orders", {"id": 2}).order_key()
    assert change("orders", {"id": 1}).order_key() != change("items", {"id": 1}).order_key()
    assert change("logs", None).order_key() == "shop.logs:"


def test_positions_round_trip_through_the_store_format() -> None:
    position = BinlogPosition("mariadb-bin.000002", 4711, "0-1-42")
    assert BinlogPosition.from_dict(position.as_dict()) == position
    assert str(position) == "mariadb-bin.000002:4711 (GTID 0-1-42)"


FLOW = """
id: cdc
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.data }}"
triggers:
  - id: realtime
    type: io.kestra.plugin.debezium.mysql.RealtimeTrigger
    hostname: db.example
    port: "3307"
    username: cdc
    password: pw
    snapshotMode: SCHEMA_ONLY
"""


def test_state_dir_reaches_the_trigger_and_keys_its_position(tmp_path: Path) -> None:
    from kflow.flow import load_flow_text
    from kflow.run.session import RunOptions, source_options

    flow = load_flow_text(FLOW, "flow.yaml", for_run=True).flow
    assert flow is not None
    trigger = flow.triggers[0]
    options = source_options(trigger, RunOptions(state_dir=str(tmp_path)))
    assert options.state_dir == str(tmp_path)
    source = RealtimeTrigger.from_trigger(
        trigger, {"flow": {"namespace": "company.team", "id": "cdc"}}, options
    )
    assert isinstance(source, RealtimeTrigger)
    assert source.state_dir == tmp_path
    assert str(source.key) == "debezium-state of company.team.cdc trigger realtime"
    assert source.mode == "NO_DATA"
    assert source.server_id == default_server_id("company.team", "cdc", "realtime")
    assert source.settings.address == "db.example:3307"


def test_set_overrides_a_trigger_property(tmp_path: Path) -> None:
    from kflow.engine.overrides import parse_overrides
    from kflow.flow import load_flow_text
    from kflow.run.session import RunOptions, source_options

    flow = load_flow_text(FLOW, "flow.yaml", for_run=True).flow
    assert flow is not None
    trigger = flow.triggers[0]
    run = RunOptions(state_dir=str(tmp_path), overrides=parse_overrides(["port=3399"]))
    source = RealtimeTrigger.from_trigger(
        trigger, {"flow": {"namespace": "company.team", "id": "cdc"}}, source_options(trigger, run)
    )
    assert isinstance(source, RealtimeTrigger)
    assert source.settings.address == "db.example:3399"
