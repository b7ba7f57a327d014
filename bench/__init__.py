"""Benchmarks against a dedicated database; not part of the test run (see BENCHMARKS.md)."""
