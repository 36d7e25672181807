"""Cassandra: the CQL ``Query`` task (values in ``{{ }}`` are bound, not pasted)."""

from __future__ import annotations

from typing import Any

from kflow.flow.properties import (
    CheckContext,
    boolean,
    enum,
    integer,
    list_of,
    obj,
    string,
)
from kflow.flow.registry import TypeSpec
from kflow.flow.yamltree import YNode

FETCH_TYPES = ("NONE", "FETCH_ONE", "FETCH", "STORE")

SESSION = obj(
    {
        "endpoints": list_of(
            obj(
                {
                    "hostname": string(required=True, templated=True),
                    "port": integer(minimum=1, default=9042, templated=True),
                    "serverName": string(templated=True),
                }
            ),
            min_items=1,
            description="Contact points.",
        ),
        "localDatacenter": string(templated=True, description="The local datacenter name."),
        "username": string(templated=True),
        "password": string(templated=True),
        "applicationName": string(templated=True),
        "secureConnection": obj(
            {
                "truststorePath": string(templated=True),
                "truststorePassword": string(templated=True),
                "keystorePath": string(templated=True),
                "keystorePassword": string(templated=True),
            },
            description="TLS settings.",
        ),
    },
    required=True,
    description="How to reach the cluster.",
)

_FETCH_FLAGS = (("fetchOne", "FETCH_ONE"), ("fetch", "FETCH"), ("store", "STORE"))


def check_query(props: dict[str, Any], node: YNode, ctx: CheckContext, key_path: str) -> None:
    """The deprecated booleans win over ``fetchType`` (in this order), as in Kestra."""
    for flag, fetch_type in _FETCH_FLAGS:
        if props.get(flag) is True:
            props["fetchType"] = fetch_type
            break


QUERY = TypeSpec(
    name="io.kestra.plugin.cassandra.standard.Query",
    aliases=("io.kestra.plugin.cassandra.Query",),
    kind="task",
    runner="kflow.plugins.cassandra:Query",
    description="Run a CQL statement; expressions in value positions are bound parameters.",
    properties={
        "session": SESSION,
        "cql": string(required=True, templated=True, template="cql", description="The CQL."),
        "fetchType": enum(
            *FETCH_TYPES,
            default="NONE",
            description="NONE, FETCH_ONE (outputs.row), FETCH (outputs.rows) or STORE.",
        ),
        "fetchOne": boolean(deprecated="use fetchType: FETCH_ONE"),
        "fetch": boolean(deprecated="use fetchType: FETCH"),
        "store": boolean(deprecated="use fetchType: STORE"),
    },
    check=check_query,
)

SPECS = (QUERY,)
