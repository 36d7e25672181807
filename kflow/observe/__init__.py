"""What ``kflow run`` shows to what runs it: Prometheus metrics, health endpoints, JSON logs.

- :mod:`kflow.observe.metrics`: the metrics of a run (one listener on the engine's events,
  gauges computed when scraped);
- :mod:`kflow.observe.readiness`: whether the triggers are connected and reading;
- :mod:`kflow.observe.server`: ``--metrics-port``: ``/metrics``, ``/healthz``, ``/readyz``
  served from a thread;
- :mod:`kflow.observe.logs`: ``--log-format json``: every line on stderr one JSON object.

Importing this package imports nothing heavy: ``prometheus_client`` is loaded only when
``--metrics-port`` is given.
"""
