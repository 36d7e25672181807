"""Connectors: the single boundary between kflow and the drivers of external systems.

Each module owns one system and is the only place where that system's driver
exceptions are caught and turned into kflow errors (``raise ... from exc``):

- :mod:`kflow.connectors.kafka` - producers, consumers and admin clients built from
  Java-style Kafka properties; :class:`kflow.errors.KafkaError`.
- :mod:`kflow.connectors.cassandra` - one cached session per connection config;
  :class:`kflow.errors.CassandraError`.
- :mod:`kflow.connectors.mongodb` - one cached client per URI, Extended JSON;
  :class:`kflow.errors.MongoError`.
- :mod:`kflow.connectors.masking` - secrets registered once and masked in every
  message that leaves a connector.

Drivers are imported inside functions, never at module import, so that
``kflow --help`` and ``kflow validate`` stay fast and need no server.
"""
