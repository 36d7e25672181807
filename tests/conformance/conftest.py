"""Conformance cases: Kestra's (and Pebble's) own expression tests, replayed on kflow."""
