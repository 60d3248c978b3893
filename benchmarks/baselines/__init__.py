"""Baselines: the catalogue's rules written directly in DuckDB SQL and in pandas."""
