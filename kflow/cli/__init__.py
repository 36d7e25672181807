"""The command line: one small module per command, each a thin skin over the library."""
