"""MongoDB tasks: InsertOne, Find, Update, Delete (``io.kestra.plugin.mongodb.*``);
Aggregate, Bulk, Load and Find's ``store: true`` use the internal storage (``mongodb_files``).

Documents are rendered structure-aware (``kflow.expr.compile_document``): a
value can never break the JSON or add keys. Extended JSON (``{"$oid": ...}``)
is read as BSON types. One client per URI for the life of the process;
pymongo calls run on the engine's worker threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kflow.connectors.mongodb import mask_uri, mongo_client, mongo_errors, parse_extended_json
from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import TaskError
from kflow.expr import compile_document, compile_value
from kflow.flow.model import TaskDef
from kflow.plugins.mongo_batching import InsertBatcher
from kflow.plugins.templating import is_static


def json_friendly(value: Any) -> Any:
    """BSON values as outputs: ObjectId and other BSON types as strings, recursively."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_friendly(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_friendly(v) for v in value]
    from datetime import datetime

    if isinstance(value, datetime):
        return value
    return str(value)


class _MongoTask(TaskRunner):
    """Connection, database and collection, rendered once when they hold no expression."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        props = task.props
        target = {
            "uri": (props.get("connection") or {}).get("uri"),
            "database": props.get("database"),
            "collection": props.get("collection"),
        }
        self._target = compile_value(target)
        self._static: tuple[Any, str] | None = None
        if is_static(target):  # the usual case: connect once, on the first execution
            self._rendered: dict[str, Any] | None = self._target.render(engine.flow_variables)
        else:
            self._rendered = None

    def collection(self, ctx: TaskContext) -> tuple[Any, str]:
        if self._static is not None:
            return self._static
        target = self._rendered or self._target.render(ctx.variables)
        uri = str(target["uri"])
        client = mongo_client(uri)
        result = (client[str(target["database"])][str(target["collection"])], mask_uri(uri))
        if self._rendered is not None:
            self._static = result
        return result

    def document(self, source: Any) -> Any:
        """A compiled document template for a property (JSON string or map), or None."""
        return None if source is None else compile_document(source)

    @staticmethod
    def bson(template: Any, ctx: TaskContext, what: str) -> Any:
        if template is None:
            return {}
        value = template.render(ctx.variables)
        if template.plain:  # nothing Extended JSON would convert (the blog's document)
            return value
        try:
            return parse_extended_json(value)
        except Exception as exc:
            raise TaskError(f"{what}: {exc}") from exc


class InsertOne(_MongoTask):
    """Inserts one document per execution; concurrent executions share ``insert_many`` calls."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.doc = self.document(task.props.get("document"))
        self._in_thread = engine.in_thread
        self._batchers: dict[tuple[int, str], InsertBatcher] = {}

    def _batcher(self, collection: Any, address: str) -> InsertBatcher:
        key = (id(collection.database.client), collection.full_name)
        batcher = self._batchers.get(key)
        if batcher is None:
            batcher = InsertBatcher(collection, address, self._in_thread)
            self._batchers[key] = batcher
        return batcher

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        collection, address = self.collection(ctx)
        doc = self.bson(self.doc, ctx, "document")
        if not isinstance(doc, dict):
            raise TaskError(f"document must be a JSON object, got {type(doc).__name__}")
        inserted_id = await self._batcher(collection, address).insert(doc)
        acknowledged = collection.write_concern.acknowledged
        return {"insertedId": str(inserted_id), "wasAcknowledged": acknowledged}


class Find(_MongoTask):
    """``rows`` + ``size``; with ``store: true``, ``uri`` (an ION file of the rows) + ``size``."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        props = task.props
        self.filter = self.document(props.get("filter"))
        self.projection = self.document(props.get("projection"))
        self.sort = self.document(props.get("sort"))
        self.limit = props.get("limit")
        self.skip = props.get("skip")
        self.store = bool(props.get("store"))

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        collection, address = self.collection(ctx)
        query = self.bson(self.filter, ctx, "filter")
        projection = self.bson(self.projection, ctx, "projection") or None
        sort = self.bson(self.sort, ctx, "sort") or None

        def cursor() -> Any:
            found = collection.find(query, projection)
            if sort:
                found = found.sort(list(sort.items()))
            if self.skip:
                found = found.skip(int(self.skip))
            if self.limit:
                found = found.limit(int(self.limit))
            return found

        if self.store:
            from kflow.plugins.mongodb_files import store_documents

            uri, size = await ctx.in_thread(store_documents, ctx, cursor, address)
            return {"uri": uri, "size": size}

        def find() -> list[Any]:
            with mongo_errors(address):
                return list(cursor())

        rows = [json_friendly(r) for r in await ctx.in_thread(find)]
        return {"rows": rows, "size": len(rows)}


class Update(_MongoTask):
    """UPDATE_ONE (default), UPDATE_MANY or REPLACE_ONE; ``upsert`` inserts when nothing matches."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        props = task.props
        self.filter = self.document(props.get("filter"))
        self.doc = self.document(props.get("document"))
        self.operation = str(props.get("operation") or "UPDATE_ONE").upper()
        self.upsert = bool(props.get("upsert"))

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        collection, address = self.collection(ctx)
        query = self.bson(self.filter, ctx, "filter")
        doc = self.bson(self.doc, ctx, "document")

        def update() -> Any:
            with mongo_errors(address):
                if self.operation == "REPLACE_ONE":
                    return collection.replace_one(query, doc, upsert=self.upsert)
                if self.operation == "UPDATE_MANY":
                    return collection.update_many(query, doc, upsert=self.upsert)
                return collection.update_one(query, doc, upsert=self.upsert)

        result = await ctx.in_thread(update)
        upserted = result.upserted_id
        return {
            "matchedCount": result.matched_count,
            "modifiedCount": result.modified_count,
            "upsertedId": str(upserted) if upserted is not None else None,
            "wasAcknowledged": result.acknowledged,
        }


class Delete(_MongoTask):
    """DELETE_ONE (default) or DELETE_MANY."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.filter = self.document(task.props.get("filter"))
        self.operation = str(task.props.get("operation") or "DELETE_ONE").upper()

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        collection, address = self.collection(ctx)
        query = self.bson(self.filter, ctx, "filter")

        def delete() -> Any:
            with mongo_errors(address):
                if self.operation == "DELETE_MANY":
                    return collection.delete_many(query)
                return collection.delete_one(query)

        result = await ctx.in_thread(delete)
        return {"deletedCount": result.deleted_count, "wasAcknowledged": result.acknowledged}
