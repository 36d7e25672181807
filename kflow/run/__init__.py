"""Running a flow in the foreground: wires the engine, the trigger and the console."""

DEFAULT_CONCURRENCY = 256
"""Executions running at once unless ``--concurrency`` says otherwise. Batched drivers
(``insert_many``) fill their batches from the executions waiting at the same time: with 64,
the blog flow's inserts held a few dozen documents each and its throughput was bound by
round trips, not CPU."""
