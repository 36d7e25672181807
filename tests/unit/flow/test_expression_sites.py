"""A CQL or document string gets every one of its problems reported in one run."""

from __future__ import annotations

import textwrap

from kflow.flow import load_flow_text


def test_cql_reports_a_jq_error_and_an_unbindable_identifier_together() -> None:
    text = textwrap.dedent("""
        id: f
        namespace: t
        tasks:
          - id: q
            type: io.kestra.plugin.cassandra.standard.Query
            session:
              endpoints: [{hostname: 127.0.0.1, port: 9042}]
              localDatacenter: datacenter1
            cql: SELECT * FROM {{ vars.table }} WHERE id = {{ trigger.value | jq('.id[') }}
    """)
    messages = [d.format() for d in load_flow_text(text, "f.yaml").diagnostics if d.is_error]
    assert len(messages) == 2, messages
    assert any("jq" in m for m in messages)
    assert any("cannot be bound" in m or "identifier" in m for m in messages)
    assert all(m.startswith("f.yaml:10:") for m in messages)
