"""kflow: run Kestra-style YAML flows from the command line.

The library is usable without the CLI: ``kflow.flow`` loads and validates
flows, ``kflow.expr`` renders expressions, ``kflow.engine`` runs executions.
"""

__version__ = "0.1.0"
