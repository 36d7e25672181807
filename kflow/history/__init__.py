"""Execution history: every finished execution of ``kflow run``, kept in a local SQLite file.

    record.py       the stored record of an execution (the ``--json`` record, plus the
                    trigger's value, key and headers, the flow file, task-run offsets)
    store.py        the SQLite file: schema, batched inserts, pruning, queries
    writer.py       the ``kflow run`` listener: records built on the loop, encoded and
                    written by one background thread, in batches
    durations.py    ``7d``/``12h`` ages and ``--since`` times
    replay.py       running a stored execution again (``kflow executions replay``)
    dead_letter.py  re-running a dead-letter topic through a flow (``kflow replay``)

The history is a record, not a delivery guarantee: what is acknowledged to the broker
does not wait for it, and a killed process (``kill -9``) loses the batch not yet written.
"""

DEFAULT_MAX_ROWS = 100_000
"""``--history-max-rows`` unless given: the file stays bounded by default."""
