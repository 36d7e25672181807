"""Declarations of the task and trigger types kflow understands.

One module per system (``core``, ``kafka``, ``cassandra``, ``mongodb``), each
exposing ``SPECS``: the :class:`~kflow.flow.registry.TypeSpec` of every type,
with its property model. Declaring a type never imports its runtime.
"""
