"""Local service stack for kflow: Kafka, Cassandra and FerretDB run from registry artifacts.

Driven by ``devstack/stack``. Standard library only, so it works before the venv exists.
"""
