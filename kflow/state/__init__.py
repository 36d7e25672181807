"""State kept on the local disk between runs of ``kflow run`` (stream positions)."""
