"""Helpers shared by kflow's integration tests and benchmarks (``tests/``, ``bench/``).

They talk to the real local stack (``devstack/stack up``); nothing here is a fake.

- :mod:`testkit.waiting`: poll a condition until it holds, with a message naming it;
- :mod:`testkit.orders`: generated orders and the sample CSVs;
- :mod:`testkit.kafka`: topics, acknowledged producers, reading topics and group offsets;
- :mod:`testkit.stack`: devstack control, seeding, outages, MongoDB and Cassandra reads;
- :mod:`testkit.processes`: ``kflow run`` as a background or foreground process;
- :mod:`testkit.churn`: consumer-group churn (kill -9, SIGTERM, start) while orders stream in.
"""
