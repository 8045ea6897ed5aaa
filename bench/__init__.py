"""Benchmarks for LabDeck (run from the repo root: ``python -m bench.bench_ssh``)."""
