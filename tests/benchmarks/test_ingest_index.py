"""The key-index benchmark at a tiny size: both modes quarantine the planted keys alike."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ is not installed
from benchmarks import ingest_index


def test_the_benchmark_runs_and_both_modes_agree(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["ingest_index", "--lines", "300", "--nights", "6,9"])
    ingest_index.main()  # fails if the scan and the index quarantine different rows
    out = capsys.readouterr().out
    assert "night 9 (9 curated nights, 2,700 keys)" in out
    assert [line.split()[-1] for line in out.splitlines() if "key index" in line] == ["5", "5"]
