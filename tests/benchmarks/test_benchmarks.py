"""The benchmark data and baselines at a tiny profile: the engine, DuckDB and pandas agree."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.night import run_night

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ is not installed
from benchmarks import datagen
from benchmarks.baselines import pandas_rules
from pipelines.settings import GateSettings

duckdb_rules = pytest.importorskip("benchmarks.baselines.duckdb_rules")

CUSTOMERS = 2_000


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """A tiny benchmark world, its night run by the engine: (folder, meta, run summary)."""
    root = tmp_path_factory.mktemp("bench")
    meta = datagen.generate(root, CUSTOMERS, seed=11)
    result = run_night(
        str(root / "landing"),
        str(root / "warehouse"),
        datagen.NIGHT,
        db_url=f"sqlite:///{root}/recon.db",
        validate=False,
        gate=GateSettings(allow_gap=True),  # the history was written, not run
    )
    return root, meta, result.summary


def engine_cases(root: Path) -> set[tuple]:
    cases = pl.read_parquet(root / f"warehouse/cases/business_date={datagen.NIGHT}/cases.parquet")
    return set(
        cases.select("case_id", "rule_id", pl.col("amount_at_risk").cast(pl.String)).iter_rows()
    )


def test_the_night_passes_ingest_whole(night):
    _, meta, summary = night
    for source, stats in summary["sources"].items():
        assert stats["rows_quarantined"] == 0, source
        assert stats["rows_loaded"] == meta["rows"]["night"][source], source


def test_the_engine_finds_exactly_the_plants(night):
    _, meta, summary = night
    found = {rule: r["found"] for rule, r in summary["rules"].items()}
    assert found == {rule: p["planted"] for rule, p in meta["plants"].items()}


def test_duckdb_finds_the_engines_cases(night):
    root, _, _ = night
    got = duckdb_rules.evaluate(root / "warehouse", datagen.NIGHT)
    assert set(got.iter_rows()) == engine_cases(root)


def test_pandas_finds_the_engines_cases(night):
    root, _, _ = night
    got = pandas_rules.evaluate(root / "warehouse", datagen.NIGHT)
    assert set(got.itertuples(index=False, name=None)) == engine_cases(root)


def test_history_partitions_have_the_curated_schema(night):
    root, _, _ = night
    for source in ("billing_lines", "store_transactions"):
        files = sorted((root / "warehouse/curated" / source).glob("*/data.parquet"))
        assert len(files) == datagen.DAYS
        schema = pl.read_parquet_schema(files[0])
        assert schema == dict(datagen.SOURCE_SPECS[source].schema)


def test_the_curated_history_is_a_valid_delivery(night, tmp_path):
    """A history day sent through ingest as a landing partition loses no row."""
    from pipelines.ingest import load_partition
    from pipelines.storage import LocalStorage

    root, meta, _ = night
    day = next(
        d
        for d in (datagen.START + timedelta(days=t) for t in range(datagen.DAYS))
        if d.day in meta["bill_days"]
    )
    for source in ("billing_lines", "store_transactions"):
        frame = pl.read_parquet(
            root / f"warehouse/curated/{source}/business_date={day}/data.parquet"
        )
        datagen.land(tmp_path, source, day, frame)
        loaded = load_partition(
            LocalStorage(tmp_path), source, day, LocalStorage(tmp_path / "empty-warehouse")
        )
        assert loaded.rows_quarantined == 0, loaded.quarantined.head(3)
        assert loaded.rows_loaded == frame.height


def _measured(seconds: float, mib: int = 100) -> dict:
    return {"seconds": seconds, "cpu_seconds": seconds, "peak_rss_mib": mib}


def test_the_scale_targets_are_judged_per_profile():
    from benchmarks.run import scale_targets

    rules = ["TARIFF_MISMATCH", "UNKNOWN_SIM_CHARGED"]
    results = {
        "rules": rules,
        "engine": {"all": _measured(7.0), "TARIFF_MISMATCH": _measured(1.0)},
        "duckdb": {"all": _measured(10.0), "TARIFF_MISMATCH": _measured(0.9)},
        "night": _measured(10.0),
        "night_validated": _measured(16.0, mib=3 * 1024),
    }
    at_1m = {t["target"]: (t["value"], t["met"]) for t in scale_targets("1m", results)}
    assert at_1m == {
        "engine / DuckDB, all nine rules": (0.7, True),
        "engine / DuckDB, TARIFF_MISMATCH": (1.111, False),
        "engine / DuckDB, UNKNOWN_SIM_CHARGED": (None, False),  # not measured is not met
        "night with validation / without": (1.6, False),
        "peak RSS of the night, defaults on": (3072, True),
    }
    at_100k = {t["target"]: t["limit"] for t in scale_targets("100k", results)}
    assert at_100k == {
        "engine / DuckDB, all nine rules": 1.0,
        "night with validation / without": 1.5,
    }
    results["night_validated"] = {"failed": "killed by signal 9 (out of memory?)"}
    at_5m = {t["target"]: (t["value"], t["met"]) for t in scale_targets("5m", results)}
    assert at_5m == {"peak RSS of the night, defaults on": (None, False)}
