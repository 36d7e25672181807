"""Debezium change data capture: the PostgreSQL and MySQL/MariaDB RealtimeTriggers
(runnable); Capture tasks, polling Triggers and the SQL Server types (declared).

Property names and defaults are those of Kestra's ``plugin-debezium``
(``AbstractDebeziumRealtimeTrigger``, ``PostgresInterface``, ``MysqlInterface``). kflow reads
the databases' own replication streams (PostgreSQL logical replication with ``pgoutput``,
the MariaDB/MySQL binlog) and shapes each change as Kestra's trigger does
(:mod:`kflow.plugins.debezium_shape`), so a Kestra flow runs unchanged.
"""

from __future__ import annotations

from typing import Any

from kflow.flow.properties import (
    CheckContext,
    Prop,
    boolean,
    duration,
    enum,
    integer,
    is_template_text,
    map_of,
    string,
    string_or_list,
)
from kflow.flow.registry import TypeSpec
from kflow.flow.yamltree import YNode

DEBEZIUM = "io.kestra.plugin.debezium"

FORMATS = ("INLINE", "RAW", "WRAP")
DELETED = ("ADD_FIELD", "NULL", "DROP")
KEY = ("ADD_FIELD", "DROP")
METADATA = ("ADD_FIELD", "DROP")
SPLIT_TABLE = ("TABLE", "DATABASE", "OFF")
COMMIT_MODES = ("ON_EACH_BATCH", "ON_STOP")


def _filter(what: str, form: str) -> Prop:
    return string_or_list(
        templated=True,
        description=f"Regular expressions (a string, comma-separated, or a list) matching the "
        f"{what} to {form}; each must match the whole name.",
    )


SHARED: dict[str, Prop] = {
    "hostname": string(required=True, templated=True, description="The database server host."),
    "port": string(required=True, templated=True, description="The database server port."),
    "username": string(templated=True, description="The user kflow connects as."),
    "password": string(templated=True, description="The password (masked in output)."),
    "format": enum(
        *FORMATS,
        default="INLINE",
        description="INLINE: the row's columns (before the change for a delete); WRAP: the "
        "same under `record`; RAW: Debezium's key and value envelope.",
    ),
    "deleted": enum(
        *DELETED,
        default="ADD_FIELD",
        description="ADD_FIELD: a boolean field tells deletes apart; NULL: no field; "
        "DROP: deletes start no execution.",
    ),
    "deletedFieldName": string(default="deleted", description="The field ADD_FIELD adds."),
    "key": enum(*KEY, default="ADD_FIELD", description="Merge the key columns into the row."),
    "metadata": enum(
        *METADATA,
        default="ADD_FIELD",
        description="ADD_FIELD: add source, operation, transaction and timestamp under "
        "metadataFieldName; DROP: leave them out.",
    ),
    "metadataFieldName": string(default="metadata", description="The field metadata goes in."),
    "splitTable": enum(
        *SPLIT_TABLE,
        default="TABLE",
        description="What trigger.stream holds: database.table (TABLE), the database "
        "(DATABASE) or `data` (OFF).",
    ),
    "ignoreDdl": boolean(default=True, description="Ignore schema changes (DDL statements)."),
    "includedDatabases": _filter("databases", "capture"),
    "excludedDatabases": _filter("databases", "leave out"),
    "includedTables": _filter("tables (database.table or schema.table)", "capture"),
    "excludedTables": _filter("tables (database.table or schema.table)", "leave out"),
    "includedColumns": _filter("columns (database.table.column)", "keep"),
    "excludedColumns": _filter("columns (database.table.column)", "drop"),
    "properties": map_of(
        string(),
        templated=True,
        description="Debezium connector properties; kflow reads the ones it understands "
        "and warns about the others.",
    ),
    "stateName": string(
        default="debezium-state",
        description="Names where the capture position is kept (with the flow and trigger).",
    ),
    "offsetsCommitMode": enum(
        *COMMIT_MODES,
        default="ON_STOP",
        description="Accepted for Kestra flows; kflow always stores the position as soon "
        "as the executions before it have finished.",
    ),
}

_POLLING: dict[str, Prop] = {
    "maxRecords": integer(minimum=1, description="Stop after this many changes."),
    "maxDuration": duration(description="Stop after this long."),
    "maxWait": duration(default="PT10S", description="Stop after this long without a change."),
    "maxSnapshotDuration": duration(default="PT1H", description="The longest a snapshot runs."),
}

_INTERVAL: dict[str, Prop] = {
    "interval": duration(default="PT1M", description="Time between captures."),
}

# --- POSTGRES block (PostgreSQL specifics) -------------------------------------------------

POSTGRES_PLUGINS = (
    "PGOUTPUT",
    "DECODERBUFS",
    "WAL2JSON",
    "WAL2JSON_RDS",
    "WAL2JSON_STREAMING",
    "WAL2JSON_RDS_STREAMING",
)
POSTGRES_SNAPSHOT_MODES = ("INITIAL", "ALWAYS", "NEVER", "INITIAL_ONLY")
POSTGRES_SSL_MODES = ("DISABLE", "REQUIRE", "VERIFY_CA", "VERIFY_FULL")

POSTGRES: dict[str, Prop] = {
    **SHARED,
    "port": string(templated=True, default="5432", description="The PostgreSQL port."),
    "database": string(
        required=True, templated=True, description="The database whose changes are captured."
    ),
    "pluginName": enum(
        *POSTGRES_PLUGINS,
        default="PGOUTPUT",
        unsupported=POSTGRES_PLUGINS[1:],
        unsupported_reason="kflow decodes PostgreSQL's built-in pgoutput stream",
        description="The logical decoding plug-in; kflow reads pgoutput.",
    ),
    "slotName": string(
        default="kestra",
        templated=True,
        pattern=r"[a-z0-9_]{1,63}",
        description="The logical replication slot: created when missing, kept when present.",
    ),
    "publicationName": string(
        default="kestra_publication",
        templated=True,
        description="The publication read (created FOR ALL TABLES when missing).",
    ),
    "snapshotMode": enum(
        *POSTGRES_SNAPSHOT_MODES,
        default="INITIAL",
        description="INITIAL: read the tables once, when the slot is new; ALWAYS: at every "
        "start; NEVER: stream only; INITIAL_ONLY: read the tables, then stop.",
    ),
    "sslMode": enum(*POSTGRES_SSL_MODES, description="TLS towards the server (libpq sslmode)."),
    "sslRootCert": string(templated=True, description="PEM of the CA certificates to trust."),
    "sslCert": string(templated=True, description="PEM of the client certificate."),
    "sslKey": string(templated=True, description="PEM of the client private key."),
    "sslKeyPassword": string(templated=True, description="The password of sslKey."),
}

# --- end of POSTGRES block ------------------------------------------------------------------

# --- MYSQL block (MySQL / MariaDB specifics) ------------------------------------------------

MYSQL_SNAPSHOT_MODES = (
    "INITIAL",
    "INITIAL_ONLY",
    "WHEN_NEEDED",
    "NEVER",
    "SCHEMA_ONLY",
    "SCHEMA_ONLY_RECOVERY",
    "NO_DATA",
    "ALWAYS",
    "RECOVERY",
)
MYSQL_SNAPSHOT_RENAMED = {"SCHEMA_ONLY": "NO_DATA", "SCHEMA_ONLY_RECOVERY": "RECOVERY"}

MYSQL: dict[str, Prop] = {
    **SHARED,
    "port": string(templated=True, default="3306", description="The MySQL/MariaDB port."),
    "serverId": string(
        templated=True,
        description="The replica server id kflow presents to the server; unique among the "
        "server's replicas (kflow derives a stable one from the flow and trigger when unset).",
    ),
    "snapshotMode": enum(
        *MYSQL_SNAPSHOT_MODES,
        default="INITIAL",
        description="When the tables are read before streaming (see the README).",
    ),
}


def _check_mysql(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    _check_shared(props, node, ctx, key_path)
    mode = props.get("snapshotMode")
    if isinstance(mode, str) and mode in MYSQL_SNAPSHOT_RENAMED:
        ctx.warning(
            node.value["snapshotMode"],
            f"{key_path}.snapshotMode",
            f"snapshotMode {mode} is deprecated in Debezium; it means "
            f"{MYSQL_SNAPSHOT_RENAMED[mode]}",
            "deprecated",
        )
    server_id = props.get("serverId")
    if isinstance(server_id, str) and not is_template_text(server_id):
        text = server_id.strip()
        if not text.isdigit() or not 0 < int(text) < 2**32:
            ctx.error(
                node.value["serverId"],
                f"{key_path}.serverId",
                f"serverId must be a number from 1 to 4294967295, got {server_id!r}",
            )


# --- end of MYSQL block ---------------------------------------------------------------------


def _check_shared(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    port = props.get("port")
    if "port" in node.value and isinstance(port, str) and not is_template_text(port):
        text = port.strip()
        if not text.isdigit() or not 0 < int(text) < 65536:
            ctx.error(node.value["port"], f"{key_path}.port", f"{port!r} is not a port number")
    for pair in (("includedDatabases", "excludedDatabases"), ("includedTables", "excludedTables")):
        if all(name in node.value for name in pair):
            ctx.error(
                node.key_node(pair[1]),
                f"{key_path}.{pair[1]}",
                f"set {pair[0]} or {pair[1]}, not both (Debezium refuses the pair)",
                "conflict",
            )


def _check_postgres(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    _check_shared(props, node, ctx, key_path)


def _specs(
    system: str, label: str, props: dict[str, Prop], runner: str | None, check: Any
) -> tuple[TypeSpec, ...]:
    base = f"{DEBEZIUM}.{system}"
    return (
        TypeSpec(
            name=f"{base}.RealtimeTrigger",
            kind="trigger",
            runner=runner,
            description=f"Start one execution per row change in {label}, as it is committed.",
            properties=props,
            check=check,
        ),
        TypeSpec(
            name=f"{base}.Trigger",
            kind="trigger",
            runner=None,
            description=f"Capture {label} changes on an interval into files, one execution each.",
            properties={**props, **_POLLING, **_INTERVAL},
            check=check,
        ),
        TypeSpec(
            name=f"{base}.Capture",
            kind="task",
            runner=None,
            description=f"Capture {label} changes into files (outputs uris, size).",
            properties={**props, **_POLLING},
            check=check,
        ),
    )


_SQLSERVER: dict[str, Prop] = {
    **SHARED,
    "database": string(required=True, templated=True, description="The database to capture."),
    "snapshotMode": string(templated=True, description="When the tables are read first."),
}

SPECS = (
    *_specs(
        "postgres",
        "PostgreSQL",
        POSTGRES,
        "kflow.plugins.debezium_postgres:RealtimeTrigger",
        _check_postgres,
    ),
    *_specs(
        "mysql",
        "MySQL or MariaDB",
        MYSQL,
        "kflow.plugins.debezium_mysql:RealtimeTrigger",
        _check_mysql,
    ),
    *_specs("sqlserver", "SQL Server", _SQLSERVER, None, _check_shared),
)
