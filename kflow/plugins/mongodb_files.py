"""MongoDB tasks that read or write the internal storage: Aggregate, Bulk, Load
(``io.kestra.plugin.mongodb.*``), and the file side of ``Find`` with ``store: true``.

Result files are ION lines (one document per line, as Kestra's ``FileSerde``):
ObjectIds as strings, dates as Ion timestamps, binary as blobs. ``Bulk`` and
``Load`` stream their file and send ``bulk_write`` calls of ``chunk``
operations; a write the server rejects is reported with the line it came from.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from kflow.connectors.mongodb import mongo_errors, parse_extended_json
from kflow.engine.task import TaskContext
from kflow.errors import DataError, MongoError, TaskError
from kflow.expr import DocumentTemplate, compile_document, compile_value
from kflow.flow.model import TaskDef
from kflow.plugins.mongodb import _MongoTask, json_friendly
from kflow.storage import default_storage, task_run_prefix

BULK_OPERATIONS = ("insertOne", "updateOne", "updateMany", "replaceOne", "deleteOne", "deleteMany")
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


def stored_value(value: Any) -> Any:
    """A BSON value as a storage file holds it (what Kestra's ``MongoDbService.map`` gives)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): stored_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stored_value(v) for v in value]
    if isinstance(value, datetime):  # pymongo gives naive datetimes in UTC
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, bytes):  # bson Binary too
        return bytes(value)
    from bson import Decimal128, Timestamp

    if isinstance(value, Decimal128):
        return float(value.to_decimal())
    if isinstance(value, Timestamp):
        return value.as_datetime()
    return str(value)  # ObjectId, UUID, Regex...


def store_documents(
    ctx: TaskContext, documents: Callable[[], Iterable[Any]], address: str
) -> tuple[str, int]:
    """Write the documents ``documents()`` yields to a new ION file of the task run.

    Blocking: call it on a worker thread. Returns ``(uri, count)``.
    """
    with default_storage().new_file(task_run_prefix(ctx)) as out, mongo_errors(address):
        for document in documents():
            out.write(stored_value(document))
    return out.uri, out.count


class Aggregate(_MongoTask):
    """Runs ``pipeline``: ``rows`` + ``size``; with ``store`` true or STORE, ``uri`` + ``size``."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        props = task.props
        source = props.get("pipeline")
        if isinstance(source, str):
            self.stages: DocumentTemplate | list[DocumentTemplate] = compile_document(source)
        elif isinstance(source, list):
            for i, stage in enumerate(source):
                if not isinstance(stage, str | Mapping):
                    raise TaskError(f"task '{task.id}': pipeline[{i}] must be a map or JSON")
            self.stages = [compile_document(stage) for stage in source]
        else:
            raise TaskError(f"task '{task.id}': pipeline must be a list of stages")
        store = props.get("store")
        self.store = store is True or str(store).upper() == "STORE"
        self.options: dict[str, Any] = {}
        if props.get("allowDiskUse", True):
            self.options["allowDiskUse"] = True
        if int(props.get("maxTimeMs") or 0) > 0:
            self.options["maxTimeMS"] = int(props["maxTimeMs"])
        if int(props.get("batchSize") or 0) > 0:
            self.options["batchSize"] = int(props["batchSize"])

    def pipeline(self, ctx: TaskContext) -> list[Any]:
        if isinstance(self.stages, list):
            stages = [self.bson(s, ctx, f"pipeline[{i}]") for i, s in enumerate(self.stages)]
        else:
            stages = self.bson(self.stages, ctx, "pipeline")
            if not isinstance(stages, list):
                raise TaskError("pipeline must be a JSON array of stages")
        for i, stage in enumerate(stages):
            if not isinstance(stage, dict):
                raise TaskError(f"pipeline[{i}] must be a document, got {type(stage).__name__}")
        return stages

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        collection, address = self.collection(ctx)
        pipeline = self.pipeline(ctx)

        def cursor() -> Any:
            return collection.aggregate(pipeline, **self.options)

        if self.store:
            uri, size = await ctx.in_thread(store_documents, ctx, cursor, address)
            return {"uri": uri, "size": size}

        def fetch() -> list[Any]:
            with mongo_errors(address):
                return list(cursor())

        rows = [json_friendly(r) for r in await ctx.in_thread(fetch)]
        return {"rows": rows, "size": len(rows)}


class _FileLoad(_MongoTask):
    """Reads ``from`` (ION or JSON lines) and sends its operations with ``bulk_write``."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.source = compile_value(task.props.get("from"))
        self.chunk = int(task.props.get("chunk") or 1000)

    def operations(self, ctx: TaskContext) -> Callable[[Any, str], Any]:
        """The function turning one record of the file (and where it is) into a write model."""
        raise NotImplementedError

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        collection, address = self.collection(ctx)
        uri = str(self.source.render(ctx.variables) or "").strip()
        if not uri:
            raise TaskError("from is empty: it must be a kestra:// URI")
        operation = self.operations(ctx)
        outputs, requests = await ctx.in_thread(self._load, collection, address, uri, operation)
        ctx.log("INFO", f"sent {requests} bulk requests for {outputs['size']} records")
        return outputs

    def _load(
        self, collection: Any, address: str, uri: str, operation: Callable[[Any, str], Any]
    ) -> tuple[dict[str, Any], int]:
        totals = {"insertedCount": 0, "matchedCount": 0, "modifiedCount": 0, "deletedCount": 0}
        size = requests = 0
        chunk: list[Any] = []
        lines: list[int] = []

        def send() -> None:
            nonlocal requests
            result = _bulk_write(collection, address, chunk, lines, uri)
            requests += 1
            totals["insertedCount"] += result.inserted_count
            totals["matchedCount"] += result.matched_count
            totals["modifiedCount"] += result.modified_count
            totals["deletedCount"] += result.deleted_count
            chunk.clear()
            lines.clear()

        with contextlib.closing(default_storage().read_records(uri)) as records:
            for line, record in records:
                chunk.append(operation(record, f"line {line} of {uri}"))
                lines.append(line)
                size += 1
                if len(chunk) >= self.chunk:
                    send()
        if chunk:
            send()
        return {"size": size, **totals}, requests


def _bulk_write(collection: Any, address: str, ops: list[Any], lines: list[int], uri: str) -> Any:
    """One ordered ``bulk_write``; a rejected write names its line of the file."""
    try:
        with mongo_errors(address):
            return collection.bulk_write(ops, ordered=True)
    except MongoError as exc:
        details = getattr(exc.__cause__, "details", None)
        errors = (details.get("writeErrors") if isinstance(details, dict) else None) or [{}]
        index = errors[0].get("index") if isinstance(errors[0], dict) else None
        if isinstance(index, int) and 0 <= index < len(lines):
            raise MongoError(f"line {lines[index]} of {uri}: {exc}", address=exc.address) from exc
        raise


def _document(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        got = "nothing" if value is None else f"a {type(value).__name__}"
        raise DataError(f"{where}: {what} must be a document (a map), got {got}")
    return value


def _extended(value: Any, where: str) -> Any:
    try:
        return parse_extended_json(value)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from exc


def bulk_operation(record: Any, where: str) -> Any:
    """A pymongo write model from one line of a Bulk file (``{"updateOne": {...}}``...)."""
    from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne

    if not isinstance(record, dict) or len(record) != 1:
        keys = ", ".join(map(str, record)) if isinstance(record, dict) else type(record).__name__
        raise DataError(
            f'{where}: expected one operation such as {{"insertOne": {{...}}}}, got {keys}'
        )
    ((kind, body),) = record.items()
    if kind not in BULK_OPERATIONS:
        raise DataError(
            f"{where}: unknown bulk operation {kind!r}; expected one of "
            + ", ".join(BULK_OPERATIONS)
        )
    body = _extended(_document(body, where, kind), where)
    if kind == "insertOne":
        # MongoDB's bulkWrite shape {"insertOne": {"document": {...}}}, or the document itself
        inner = body.get("document")
        return InsertOne(inner if len(body) == 1 and isinstance(inner, dict) else body)
    query = _document(body.get("filter"), where, f"{kind}.filter")
    options: dict[str, Any] = {}
    if "collation" in body:
        options["collation"] = _document(body["collation"], where, f"{kind}.collation")
    if kind in ("deleteOne", "deleteMany"):
        return (DeleteOne if kind == "deleteOne" else DeleteMany)(query, **options)
    if "upsert" in body:
        if not isinstance(body["upsert"], bool):
            raise DataError(f"{where}: {kind}.upsert must be true or false")
        options["upsert"] = body["upsert"]
    if kind == "replaceOne":
        replacement = _document(body.get("replacement"), where, "replaceOne.replacement")
        return ReplaceOne(query, replacement, **options)
    update = body.get("update")
    if not isinstance(update, dict | list):
        raise DataError(f"{where}: {kind}.update must be a document or a pipeline")
    if "arrayFilters" in body:
        filters = body["arrayFilters"]
        if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
            raise DataError(f"{where}: {kind}.arrayFilters must be a list of documents")
        options["array_filters"] = filters
    return (UpdateOne if kind == "updateOne" else UpdateMany)(query, update, **options)


class Bulk(_FileLoad):
    """Each line of ``from`` is one operation: insertOne, updateOne, updateMany, replaceOne,
    deleteOne or deleteMany. Outputs size, insertedCount, matchedCount, modifiedCount,
    deletedCount."""

    def operations(self, ctx: TaskContext) -> Callable[[Any, str], Any]:
        return bulk_operation


class Load(_FileLoad):
    """Each line of ``from`` is a document to insert; ``idKey`` names the field that becomes
    ``_id`` (an ObjectId when it holds 24 hex digits) and ``removeIdKey`` drops that field."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        id_key = task.props.get("idKey")
        self.id_key = compile_value(id_key) if id_key else None
        self.remove_id_key = task.props.get("removeIdKey", True) is not False

    def operations(self, ctx: TaskContext) -> Callable[[Any, str], Any]:
        key = str(self.id_key.render(ctx.variables)) if self.id_key is not None else ""
        remove = self.remove_id_key and key != "_id"
        return lambda record, where: load_document(record, where, key, remove)


def load_document(record: Any, where: str, id_key: str, remove_id_key: bool) -> Any:
    """An ``InsertOne`` of one record of a Load file, ``id_key`` (if set) copied to ``_id``."""
    from bson import ObjectId
    from pymongo import InsertOne

    document = _extended(_document(record, where, "a record"), where)
    if id_key:
        if id_key not in document:
            raise DataError(f"{where}: the record has no field {id_key!r} (idKey)")
        value = document[id_key]
        is_hex = isinstance(value, str) and _OBJECT_ID.fullmatch(value)
        document["_id"] = ObjectId(value) if is_hex else value
        if remove_id_key:
            del document[id_key]
    return InsertOne(document)
