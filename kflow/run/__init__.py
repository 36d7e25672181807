"""Running a flow in the foreground: wires the engine, the trigger and the console."""

DEFAULT_CONCURRENCY = 64
"""Executions running at once unless ``--concurrency`` says otherwise (also the RabbitMQ
prefetch, the MQTT receive maximum and the NATS and Redis in-flight limits). Batched drivers
(``insert_many``) fill their batches from the executions waiting at the same time: a
high-rate Kafka flow gains from ``--concurrency 256`` (the blog flow: 1,609-2,301/s against
1,011-1,209/s at 64), at the price of more work in flight to finish on a stop and to run
again after a crash."""
