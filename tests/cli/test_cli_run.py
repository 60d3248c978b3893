"""`recon run` and `recon backfill` on tiny landing zones: exit codes and what gets published."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
from click.testing import CliRunner

from pipelines.cli import main
from tests.support.landing import (
    BD,
    billing_row,
    land_night,
    luhn_complete,
)

NEXT = BD + timedelta(days=1)


def invoke(root, *args, validate=False):
    """A command on the root's landing and warehouse; without the GX suites unless asked
    (their own tests are in tests/quality)."""
    where = ["--landing", str(root / "landing"), "--warehouse", str(root / "warehouse")]
    return CliRunner().invoke(main, [*args, *where, *([] if validate else ["--no-validate"])])


def published(root, day=BD):
    return root / "warehouse" / "cases" / f"business_date={day}"


def test_run_publishes_the_night(tmp_path):
    unknown = billing_row(
        line_id="L2",
        iccid=luhn_complete("894410000000000099"),
        msisdn="447700900999",
        amount="5.00",
    )
    land_night(tmp_path, billing_lines=[billing_row(), unknown])
    result = invoke(tmp_path, "run", "--business-date", str(BD))
    assert result.exit_code == 0, result.output
    cases = pl.read_csv(published(tmp_path) / "cases.csv", infer_schema=False)
    assert cases["rule_id"].to_list() == ["UNKNOWN_SIM_CHARGED"]
    assert cases["amount_at_risk"].to_list() == ["5.00"]
    summary = json.loads((published(tmp_path) / "summary.json").read_text())
    assert summary["sources"]["billing_lines"]["rows_quarantined"] == 0
    assert (tmp_path / "warehouse" / "recon.db").exists()


def test_missing_partition_exits_2_and_publishes_nothing(tmp_path):
    land_night(tmp_path)
    result = invoke(tmp_path, "run", "--business-date", str(NEXT))
    assert result.exit_code == 2
    assert "store_transactions/business_date=2024-04-02" in result.output
    assert not published(tmp_path, NEXT).exists()


def test_checksum_mismatch_exits_2_names_the_file_and_writes_nothing(tmp_path):
    land_night(tmp_path)
    part = tmp_path / "landing" / "billing_lines" / f"business_date={BD}" / "part-0000.csv"
    part.write_bytes(part.read_bytes().replace(b"20.00", b"21.00"))
    result = invoke(tmp_path, "run", "--business-date", str(BD))
    assert result.exit_code == 2
    assert "billing_lines/business_date=2024-04-01/part-0000.csv" in result.output
    assert "sha256" in result.output
    assert not (tmp_path / "warehouse" / "cases").exists()
    assert not (tmp_path / "warehouse" / "curated").exists()


def test_quarantined_rows_past_the_threshold_stop_the_night(tmp_path):
    bad = billing_row(line_id="L2", amount="12.505")
    land_night(tmp_path, billing_lines=[billing_row(), bad])
    result = invoke(tmp_path, "run", "--business-date", str(BD))
    assert result.exit_code == 2
    assert "billing_lines: 50.00% of the rows quarantined" in result.output
    assert not (tmp_path / "warehouse" / "cases").exists()
    assert not (tmp_path / "warehouse" / "curated").exists()


def test_quarantined_rows_within_the_threshold_are_counted_and_the_night_goes_on(tmp_path):
    bad = billing_row(line_id="L2", amount="12.505")
    land_night(tmp_path, billing_lines=[billing_row(), bad])
    result = invoke(
        tmp_path, "run", "--business-date", str(BD), "--max-quarantine", "billing_lines=50%"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((published(tmp_path) / "summary.json").read_text())
    assert summary["sources"]["billing_lines"] | {"files": None} == {
        "files": None,
        "rows_read": 2,
        "rows_loaded": 1,
        "rows_quarantined": 1,
    }
    quarantine = pl.read_parquet(
        tmp_path
        / "warehouse"
        / "quarantine"
        / "billing_lines"
        / f"business_date={BD}"
        / "quarantine.parquet"
    )
    assert quarantine["_reason"].to_list() == [
        "amount: not a decimal with at most 2 decimals ('12.505')"
    ]


def test_backfill_runs_nights_in_order_and_stops_at_a_bad_one(tmp_path):
    land_night(tmp_path)
    land_night(tmp_path, NEXT)
    third = NEXT + timedelta(days=1)
    result = invoke(tmp_path, "backfill", "--start", str(BD), "--end", str(third))
    assert result.exit_code == 2
    assert published(tmp_path, BD).exists() and published(tmp_path, NEXT).exists()
    assert not published(tmp_path, third).exists()
    assert "[2/3]" in result.output


def test_other_failures_exit_1(tmp_path):
    land_night(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--landing",
            str(tmp_path / "landing"),
            "--warehouse",
            str(tmp_path / "warehouse"),
            "--business-date",
            str(BD),
            "--db",
            "nosuchdialect://x",
        ],
    )
    assert result.exit_code == 1
    assert "error:" in result.output
