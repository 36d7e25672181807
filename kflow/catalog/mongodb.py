"""MongoDB: InsertOne, Find, Update, Delete, Aggregate, Bulk, Load.

Aggregate, Bulk, Load and Find's ``store`` read or write the internal storage
(``kflow.storage``); their runtimes are in ``kflow.plugins.mongodb_files``.
"""

from __future__ import annotations

from typing import Any

from kflow.flow.properties import (
    any_value,
    boolean,
    enum,
    integer,
    list_of,
    obj,
    one_of,
    string,
)
from kflow.flow.registry import TypeSpec

MONGO = "io.kestra.plugin.mongodb"


def _document(required: bool = False, description: str = "") -> Any:
    """A JSON (Extended JSON) document: a string template or a YAML mapping."""
    return one_of(
        string(templated=True, template="document"),
        any_value(templated=True),
        required=required,
        templated=True,
        template="document",
        description=description,
    )


_BASE = {
    "connection": obj(
        {"uri": string(required=True, templated=True, description="The MongoDB URI.")},
        required=True,
    ),
    "database": string(required=True, templated=True),
    "collection": string(required=True, templated=True),
}

INSERT_ONE = TypeSpec(
    name=f"{MONGO}.InsertOne",
    kind="task",
    runner="kflow.plugins.mongodb:InsertOne",
    description="Insert one document (outputs insertedId, wasAcknowledged).",
    properties={**_BASE, "document": _document(True, "The document to insert.")},
)

FIND = TypeSpec(
    name=f"{MONGO}.Find",
    kind="task",
    runner="kflow.plugins.mongodb:Find",
    description="Find documents (outputs rows, size; with store: uri, size).",
    properties={
        **_BASE,
        "filter": _document(description="The query filter."),
        "projection": _document(),
        "sort": _document(),
        "limit": integer(minimum=0, templated=True),
        "skip": integer(minimum=0, templated=True),
        "store": boolean(
            default=False, description="Write the rows to an ION file of the internal storage."
        ),
    },
)

UPDATE = TypeSpec(
    name=f"{MONGO}.Update",
    kind="task",
    runner="kflow.plugins.mongodb:Update",
    description="Update or replace documents.",
    properties={
        **_BASE,
        "filter": _document(True, "Which documents to update."),
        "document": _document(True, "The update (operators) or the replacement."),
        "operation": enum("UPDATE_ONE", "UPDATE_MANY", "REPLACE_ONE", default="UPDATE_ONE"),
        "upsert": boolean(default=False, description="Insert when nothing matches (kflow)."),
    },
)

DELETE = TypeSpec(
    name=f"{MONGO}.Delete",
    kind="task",
    runner="kflow.plugins.mongodb:Delete",
    description="Delete documents.",
    properties={
        **_BASE,
        "filter": _document(True, "Which documents to delete."),
        "operation": enum("DELETE_ONE", "DELETE_MANY", default="DELETE_ONE"),
    },
)

AGGREGATE = TypeSpec(
    name=f"{MONGO}.Aggregate",
    kind="task",
    runner="kflow.plugins.mongodb_files:Aggregate",
    description="Run an aggregation pipeline (outputs rows, size; with store: uri, size).",
    properties={
        **_BASE,
        "pipeline": one_of(
            list_of(_document()),
            string(templated=True, template="document"),
            required=True,
            description="The pipeline stages: a list of documents, or a JSON array.",
        ),
        "allowDiskUse": boolean(default=True),
        "maxTimeMs": integer(minimum=0, default=60000),
        "batchSize": integer(minimum=1, default=1000),
        # Older Kestra: a boolean; newer: FETCH (rows) or STORE (a file); FETCH_ONE and NONE
        # fetch the rows, as in Kestra.
        "store": one_of(
            boolean(),
            enum("FETCH", "STORE", "FETCH_ONE", "NONE"),
            default=False,
            description="true or STORE: write the rows to an ION file of the internal storage.",
        ),
    },
)

BULK = TypeSpec(
    name=f"{MONGO}.Bulk",
    kind="task",
    runner="kflow.plugins.mongodb_files:Bulk",
    description="Run the bulk operations of an ION/JSON-lines file (insertOne, updateOne...).",
    properties={
        **_BASE,
        "from": string(required=True, templated=True, description="The file URI."),
        "chunk": integer(minimum=1, default=1000),
    },
)

LOAD = TypeSpec(
    name=f"{MONGO}.Load",
    kind="task",
    runner="kflow.plugins.mongodb_files:Load",
    description="Insert the documents of an ION/JSON-lines file.",
    properties={
        **_BASE,
        "from": string(required=True, templated=True, description="The file URI."),
        "chunk": integer(minimum=1, default=1000),
        "idKey": string(templated=True),
        "removeIdKey": boolean(default=True),
    },
)

SPECS = (INSERT_ONE, FIND, UPDATE, DELETE, AGGREGATE, BULK, LOAD)
