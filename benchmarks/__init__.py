"""Benchmarks: generated data, the engine against DuckDB and pandas baselines (not product code)."""
