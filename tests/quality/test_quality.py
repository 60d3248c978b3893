"""Data quality: the GX suites catch what they exist for, results and pages are kept."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.contract import SOURCE_SPECS, SOURCES
from pipelines.ingest import commit_partition, load_partition
from pipelines.ingest.identifiers import ICCID_PATTERN, ISO_4217, MSISDN_PATTERN
from pipelines.ingest.parse import DATE_TEXT, INT_TEXT, MONEY_TEXT, TIMESTAMP_TEXT
from pipelines.quality import CriticalExpectationFailed, check_night
from pipelines.quality.suites import SUITES_DIR, gx_suite, suite_document
from pipelines.storage import LocalStorage, Storage
from tests.support.landing import (
    BD,
    billing_row,
    inventory_row,
    land,
    land_rows,
    letter_row,
    luhn_complete,
    store_row,
)

ROWS = 300  # one bad row is 0.33%: a warning; ten are 3.3%: critical (threshold 1%)
NEXT = BD + timedelta(days=1)


def unique_row(source: str, i: int, day: date) -> dict[str, str | None]:
    """Row i of a valid partition of `day`: keys unique across rows and dates."""
    if source == "billing_lines":
        return billing_row(line_id=f"L{day}-{i}")
    if source == "store_transactions":
        return store_row(transaction_id=f"T{day}-{i}", transaction_ts=f"{day}T10:00:00Z")
    if source == "sim_inventory":
        return inventory_row(iccid=luhn_complete(f"8944{i:014d}"))
    return letter_row(letter_id=f"LT{day}-{i}", scheduled_send_date=str(day + timedelta(days=3)))


def land_source(
    root: Path,
    source: str,
    changes: dict[int, dict] | None = None,
    day: date = BD,
    rows: int = ROWS,
) -> None:
    """A partition of `rows` valid rows, row i updated with changes[i]."""
    changes = changes or {}
    land_rows(
        root,
        source,
        *(unique_row(source, i, day) | changes.get(i, {}) for i in range(rows)),
        business_date=day,
    )


def stores(root: Path) -> tuple[LocalStorage, LocalStorage]:
    return LocalStorage(root / "landing"), LocalStorage(root / "warehouse")


def ingest_source(landing: Storage, warehouse: Storage, source: str, day: date) -> None:
    """One partition checked and curated (what `recon validate` checks afterwards)."""
    commit_partition(warehouse, load_partition(landing, source, day, warehouse))


def ingest_night(landing: Storage, warehouse: Storage, day: date) -> None:
    for source in SOURCES:
        ingest_source(landing, warehouse, source, day)


def ingested_night(root: Path, day: date = BD, **changes: dict[int, dict]) -> None:
    """All four sources landed (small partitions) and ingested; `changes` per source."""
    for source in SOURCES:
        land_source(root, source, changes.get(source), day, rows=20)
    ingest_night(*stores(root), day)


def validated(root: Path, source: str, changes: dict[int, dict]):
    """The validation of a freshly landed and ingested partition of ROWS rows."""
    land_source(root, source, changes)
    landing, warehouse = stores(root)
    ingest_source(landing, warehouse, source, BD)
    return check_night(landing, warehouse, BD, sources=[source]).outcomes[source]


QUARANTINED = ("expect_column_values_to_be_in_set", "_quarantined")


def failed(checks) -> set[tuple[str, str, str]]:
    return {(c.severity, c.expectation, c.target) for c in checks if not c.success}


def invoke(root: Path, *args: str):
    return CliRunner().invoke(
        main, [*args, "--landing", str(root / "landing"), "--warehouse", str(root / "warehouse")]
    )


# --- the suites ------------------------------------------------------------------------------

REGEX = {  # ingest's patterns, with non-capturing groups (pandas warns about capturing ones)
    kind: re.sub(r"\((?!\?)", "(?:", pattern)
    for kind, pattern in {
        "msisdn": MSISDN_PATTERN,
        "iccid": ICCID_PATTERN,
        "int": INT_TEXT,
        "timestamp": TIMESTAMP_TEXT,
        "date": DATE_TEXT,
        "money": MONEY_TEXT,
    }.items()
}


@pytest.mark.parametrize("source", SOURCES)
def test_suites_in_sync_with_the_contract(source):
    spec, doc = SOURCE_SPECS[source], suite_document(source)
    assert doc["name"] == source and (SUITES_DIR / f"{source}.json").exists()
    expectations = doc["expectations"]
    by_type: dict[str, list[dict]] = {}
    for e in expectations:
        by_type.setdefault(e["type"], []).append(e["kwargs"])
        assert e["severity"] == e["meta"]["severity"] in ("critical", "warning")
        assert e["meta"]["why"].strip()
        if e["type"].startswith("expect_table_"):
            assert e["severity"] == "critical"
        else:  # row level: a warning for any bad row, a critical one past 1%
            twin = {**e["kwargs"], "mostly": 1.0 if e["severity"] == "critical" else 0.99}
            assert {"critical": 0.99, "warning": 1.0}[e["severity"]] == e["kwargs"]["mostly"]
            assert [(x["type"], x["kwargs"]) for x in expectations].count((e["type"], twin)) == 1
    (columns,) = by_type["expect_table_columns_to_match_set"]
    assert columns["column_set"] == spec.column_names
    assert sorted(k["value"]["$PARAMETER"] for k in by_type["expect_table_row_count_to_equal"]) == [
        "manifest_rows",
        "rows_loaded_plus_quarantined",
    ]
    not_null = {k["column"] for k in by_type["expect_column_values_to_not_be_null"]}
    assert not_null == {c.name for c in spec.columns if not c.nullable}
    assert {k["column"] for k in by_type["expect_column_values_to_be_unique"]} == {spec.key}
    # contract columns only: derived ones start with '_'
    in_set = {
        k["column"]: k["value_set"]
        for k in by_type["expect_column_values_to_be_in_set"]
        if not k["column"].startswith("_")
    }
    regex = {k["column"]: k["regex"] for k in by_type["expect_column_values_to_match_regex"]}
    for c in spec.columns:
        if c.kind == "enum":
            assert in_set.pop(c.name) == list(c.values)
        elif c.kind == "currency":
            assert set(in_set.pop(c.name)) == ISO_4217
        elif c.kind in REGEX:
            assert regex.pop(c.name) == REGEX[c.kind]
    assert not in_set and not regex  # no check of a column the contract does not know
    assert len(gx_suite(source).expectations) == len(expectations)  # GX accepts every one


# --- what each suite catches -----------------------------------------------------------------

CATCHES = [
    ("billing_lines", {7: {"line_id": f"L{BD}-6"}}, "expect_column_values_to_be_unique", "line_id"),
    (
        "billing_lines",
        {7: {"amount": "5.00", "charge_type": "credit"}},
        "expect_column_values_to_be_between",
        "_credit_amount",
    ),
    (
        "billing_lines",
        {7: {"period_start": "2024-05-02"}},
        "expect_column_pair_values_a_to_be_greater_than_b",
        "_period_end, _period_start",
    ),
    ("billing_lines", {7: {"currency": "gbp"}}, "expect_column_values_to_be_in_set", "currency"),
    (
        "billing_lines",
        {7: {"amount": "999.00"}},
        "expect_column_values_to_be_between",
        "_recurring_amount",
    ),
    (
        "store_transactions",
        {7: {"channel": "kiosk"}},
        "expect_column_values_to_be_in_set",
        "channel",
    ),
    (
        "store_transactions",
        {7: {"msisdn": "+447700900123"}},
        "expect_column_values_to_match_regex",
        "msisdn",
    ),
    (
        "store_transactions",
        {7: {"transaction_ts": "2024-03-31T23:59:59Z"}},
        "expect_column_values_to_be_between",
        "_days_from_business_date",
    ),
    (
        "sim_inventory",
        {7: {"iccid": "8944100000000000X01"}},
        "expect_column_values_to_match_regex",
        "iccid",
    ),
    (
        "sim_inventory",
        {7: {"status": "lost_stolen"}},
        "expect_column_values_to_be_in_set",
        "_deactivated_at_missing",
    ),
    (
        "retention_campaigns",
        {7: {"scheduled_send_date": str(BD)}},
        "expect_column_values_to_be_between",
        "_days_from_business_date",
    ),
    (
        "retention_campaigns",
        {7: {"customer_id": None}},
        "expect_column_values_to_not_be_null",
        "customer_id",
    ),
]


@pytest.mark.parametrize(
    ("source", "changes", "expectation", "target"),
    CATCHES,
    ids=[f"{c[0]}-{c[2][7:]}-{c[3]}" for c in CATCHES],
)
def test_one_bad_row_fails_only_its_warning(tmp_path, source, changes, expectation, target):
    """(and the warning on ingest's verdicts when ingest quarantines the row)"""
    outcome = validated(tmp_path, source, changes)
    assert outcome.success
    verdicts = {("warning", *QUARANTINED)} if outcome.statistics["rows_quarantined"] else set()
    assert failed(outcome.checks) == {("warning", expectation, target)} | verdicts
    assert outcome.critical_failures == []
    (warning,) = [c for c in outcome.warning_failures if c.target == target]
    assert re.match(rf"[12] of {ROWS} rows unexpected", warning.observed)  # a duplicate is 2


@pytest.mark.parametrize(
    ("source", "changes", "expectation", "target"),
    [
        (
            "sim_inventory",
            {i: {"iccid": f"89441000000000{i:04d}X"} for i in range(10)},
            "expect_column_values_to_match_regex",
            "iccid",
        ),
        (
            "billing_lines",
            {i: {"charge_type": "refund"} for i in range(10)},
            "expect_column_values_to_be_in_set",
            "charge_type",
        ),
    ],
)
def test_many_bad_rows_are_critical(tmp_path, source, changes, expectation, target):
    outcome = validated(tmp_path, source, changes)
    assert not outcome.success
    assert failed(outcome.checks) == {
        ("warning", expectation, target),
        ("critical", expectation, target),
        ("warning", *QUARANTINED),
        ("critical", *QUARANTINED),
    }
    message = str(CriticalExpectationFailed([outcome]))
    assert (
        f"{source} {BD}: {expectation} on {target} (critical, mostly 0.99): "
        f"10 of {ROWS} rows unexpected (3.33% of non-null)\n" in message + "\n"
    )


NEAR_MISSES = [  # well-formed text that ingest still quarantines
    ("sim_inventory", lambda i: {"iccid": luhn_complete(f"8944{i:014d}")[:-1] + "0"}),
    ("billing_lines", lambda i: {"period_start": "2024-02-30", "period_end": "2024-03-29"}),
]


@pytest.mark.parametrize(("source", "change"), NEAR_MISSES, ids=["luhn", "impossible-date"])
def test_every_quarantine_reason_counts_for_the_critical_gate(tmp_path, source, change):
    """A wrong Luhn digit or 2024-02-30 passes every format check: ingest's verdicts catch
    them, a warning for a few rows, critical past 1%."""
    bad = [i for i in range(ROWS) if change(i) != {"iccid": luhn_complete(f"8944{i:014d}")}]
    outcome = validated(tmp_path, source, {i: change(i) for i in bad[:10]})
    assert failed(outcome.checks) == {("warning", *QUARANTINED), ("critical", *QUARANTINED)}
    assert outcome.statistics["rows_quarantined"] == 10
    (critical,) = outcome.critical_failures
    assert critical.observed == f"10 of {ROWS} rows unexpected (3.33% of non-null)"


@pytest.mark.parametrize(("source", "change"), NEAR_MISSES, ids=["luhn", "impossible-date"])
def test_a_few_quarantined_rows_are_only_a_warning(tmp_path, source, change):
    outcome = validated(tmp_path, source, {5: change(5), 6: change(6)})
    assert outcome.success
    assert failed(outcome.checks) == {("warning", *QUARANTINED)}


def test_rows_missing_from_the_warehouse_are_critical(tmp_path):
    land_source(tmp_path, "billing_lines", {3: {"amount": "1.234"}})
    landing, warehouse = stores(tmp_path)
    ingest_source(landing, warehouse, "billing_lines", BD)
    warehouse.delete_prefix(f"quarantine/billing_lines/business_date={BD}")  # one row lost
    outcome = check_night(landing, warehouse, BD, sources=["billing_lines"]).outcomes
    (critical,) = outcome["billing_lines"].critical_failures
    assert critical.target == "table vs rows_loaded_plus_quarantined"


# --- the night: results, pages, run and CLI -----------------------------------------------------


def page(root: Path, day: date) -> str:
    return (
        root / "warehouse" / "quality" / "pages" / f"business_date={day}" / "index.html"
    ).read_text()


def test_clean_nights_pass_and_are_kept_for_auditors(tmp_path):
    ingested_night(tmp_path)
    ingested_night(tmp_path, NEXT)
    landing, warehouse = stores(tmp_path)
    check_night(landing, warehouse, NEXT)
    night = check_night(landing, warehouse, BD)
    assert night.success
    assert all(c.success for o in night.outcomes.values() for c in o.checks)
    assert night.summary()["sources"]["billing_lines"]["statistics"] == {
        "expectations": 51,
        "passed": 51,
        "failed": 0,
        "manifest_rows": 20,
        "rows_loaded": 20,
        "rows_quarantined": 0,
    }
    pages = tmp_path / "warehouse" / "quality" / "pages"
    assert night.pages == str(pages / "index.html")
    index = (pages / "index.html").read_text()
    for day in (BD, NEXT):
        for source in SOURCES:
            folder = tmp_path / "warehouse" / "quality" / source / f"business_date={day}"
            result = json.loads((folder / "validation.json").read_text())
            assert result["success"]
            assert result["meta"]["run_id"]["run_name"] == f"business_date={day}"
            assert json.loads((folder / "summary.json").read_text())["success"]
            assert f'href="business_date={day}/index.html#{source}"' in index
        text = page(tmp_path, day)
        assert all(f'<h2 id="{s}">{s}:' in text for s in SOURCES)
        assert text.count("<td>pass</td>") == sum(len(o.checks) for o in night.outcomes.values())
    assert index.index(str(NEXT)) < index.index(str(BD))  # newest night first
    listed = json.loads((pages / "nights.json").read_text())
    assert list(listed) == [str(NEXT), str(BD)] and list(listed[str(BD)]) == list(SOURCES)


def test_night_validation_imports_great_expectations_once(tmp_path, monkeypatch):
    from pipelines.quality import validate as validate_module

    contexts = []
    real = validate_module._gx_context

    def counted():
        contexts.append(1)
        return real()

    monkeypatch.setattr(validate_module, "_gx_context", counted)
    ingested_night(tmp_path)
    assert check_night(*stores(tmp_path), BD).success
    assert contexts == [1]


def test_validation_keeps_none_of_the_nights_rows_once_done(tmp_path):
    import gc

    import pandas as pd

    ingested_night(tmp_path)
    assert check_night(*stores(tmp_path), BD).success
    gc.collect()
    # GX's current project held every batch's frame until the rules had run.
    assert not [o for o in gc.get_objects() if isinstance(o, pd.DataFrame)]


def test_rerun_replaces_the_night_in_the_index(tmp_path):
    ingested_night(tmp_path)
    landing, warehouse = stores(tmp_path)
    check_night(landing, warehouse, BD)
    first = page(tmp_path, BD)
    check_night(landing, warehouse, BD, sources=["sim_inventory"])
    nights = json.loads(warehouse.read_bytes("quality/pages/nights.json"))
    assert list(nights) == [str(BD)] and list(nights[str(BD)]) == ["sim_inventory"]
    assert page(tmp_path, BD) != first and 'id="billing_lines"' not in page(tmp_path, BD)


def test_pages_of_old_nights_are_dropped_their_evidence_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("RECON_QUALITY_PAGES", "2")
    days = [BD + timedelta(days=i) for i in range(3)]
    for day in days:
        ingested_night(tmp_path, day)
        check_night(*stores(tmp_path), day)
    pages = tmp_path / "warehouse" / "quality" / "pages"
    assert sorted(p.name for p in pages.iterdir() if p.is_dir()) == [
        f"business_date={d}" for d in days[1:]
    ]
    index = (pages / "index.html").read_text()
    assert f"{days[0]}<br><small>page not kept</small>" in index
    for day in days:
        assert (
            tmp_path / "warehouse" / f"quality/billing_lines/business_date={day}/validation.json"
        ).is_file()


HOSTILE = "<script>alert(1)</script>"


def test_pages_escape_every_input_and_load_nothing_from_the_network(tmp_path):
    ingested_night(
        tmp_path, billing_lines={3: {"charge_type": HOSTILE}, 4: {"description": HOSTILE}}
    )
    check_night(*stores(tmp_path), BD)
    published = list((tmp_path / "warehouse").rglob("*.html"))
    assert len(published) == 2  # the night's page and the index
    for html in published:
        text = html.read_text()
        assert "<script" not in text.lower()
        assert not re.search(r"https?://|//[a-z]", text, re.I)
        assert not re.search(r"<(link|img|iframe|object|embed)\b", text, re.I)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page(tmp_path, BD)  # the example, escaped


def test_run_with_validate_reports_warnings_in_the_summary(tmp_path):
    for source in SOURCES:
        land_source(
            tmp_path, source, {5: {"iccid": "89441"}} if source == "billing_lines" else {}, rows=120
        )
    result = invoke(tmp_path, "run", "--business-date", str(BD), "--validate")
    assert result.exit_code == 0, result.output
    assert "Calculating Metrics" not in result.output  # no progress bars
    summary = json.loads(
        (tmp_path / "warehouse" / "cases" / f"business_date={BD}" / "summary.json").read_text()
    )
    quality = summary["quality"]
    assert quality["success"]
    warnings = quality["sources"]["billing_lines"]["warning_failures"]
    assert [(w["expectation"], w["target"], w["observed"]) for w in warnings] == [
        (
            "expect_column_values_to_be_in_set",
            "_quarantined",
            "1 of 120 rows unexpected (0.83% of non-null)",
        ),
        (
            "expect_column_values_to_match_regex",
            "iccid",
            "1 of 120 rows unexpected (0.83% of non-null)",
        ),
    ]
    assert summary["sources"]["billing_lines"]["rows_quarantined"] == 1


def test_run_with_validate_stops_a_broken_night_and_publishes_nothing(tmp_path):
    for source in SOURCES:
        bad = {i: {"currency": "pounds"} for i in range(5)} if source == "billing_lines" else {}
        land_source(tmp_path, source, bad, rows=100)
    args = ("--validate", "--max-quarantine", "billing_lines=10%")  # past the gate, to GX
    result = invoke(tmp_path, "run", "--business-date", str(BD), *args)
    assert result.exit_code == 2, result.output
    assert (
        f"billing_lines {BD}: expect_column_values_to_be_in_set on currency (critical, "
        "mostly 0.99): 5 of 100 rows unexpected (5.00% of non-null)" in result.output
    )
    assert not (tmp_path / "warehouse" / "cases").exists()
    assert (
        tmp_path
        / "warehouse"
        / "quality"
        / "billing_lines"
        / f"business_date={BD}"
        / "validation.json"
    ).exists()


def test_recon_validate_prints_the_expectations_and_exits_2_on_critical(tmp_path):
    ingested_night(tmp_path, sim_inventory={i: {"sim_type": "esim"} for i in range(20)})
    result = invoke(tmp_path, "validate", "--business-date", str(BD))
    assert result.exit_code == 2, result.output
    assert (
        "sim_inventory 2024-04-01: FAILED, 4 of 31 expectations failed; rows: 20 in the "
        "manifest, 0 loaded, 20 quarantined" in result.output
    )
    assert re.search(
        r"FAIL +critical +expect_column_values_to_be_in_set +sim_type +20 of 20 "
        r"rows unexpected",
        result.output,
    )
    assert re.search(
        r"pass +critical +expect_table_row_count_to_equal +table vs manifest_rows "
        r"+20",
        result.output,
    )
    assert "billing_lines 2024-04-01: passed" in result.output
    assert (
        "data-quality pages: " + str(tmp_path / "warehouse" / "quality" / "pages" / "index.html")
        in result.output
    )


def test_recon_validate_of_a_night_not_ingested_exits_1(tmp_path):
    for source in SOURCES:
        land_source(tmp_path, source, rows=1)
    result = invoke(tmp_path, "validate", "--business-date", str(BD))
    assert result.exit_code == 1
    assert "ingest store_transactions 2024-04-01 before validating it" in result.output


def test_great_expectations_is_imported_only_when_validating():
    code = "import sys, pipelines.cli, pipelines.night; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_header_only_billing_partition_passes(tmp_path):
    land(tmp_path, "billing_lines", {"part-0000.csv": ",".join(billing_row()).encode() + b"\n"})
    landing, warehouse = stores(tmp_path)
    ingest_source(landing, warehouse, "billing_lines", BD)
    outcome = check_night(landing, warehouse, BD, sources=["billing_lines"]).outcomes[
        "billing_lines"
    ]
    assert outcome.success and not outcome.warning_failures
    assert outcome.statistics["manifest_rows"] == 0


def test_a_night_of_luhn_near_misses_past_the_gate_is_stopped_by_recon_run(tmp_path):
    """5 % of the SIMs with a wrong check digit: well-formed, quarantined by ingest; with the
    gate raised to 10 %, the critical expectation on ingest's verdicts stops the night."""
    wrong = {}
    for i in range(100):
        iccid = luhn_complete(f"8944{i:014d}")
        if len(wrong) < 5 and not iccid.endswith("0"):
            wrong[i] = {"iccid": iccid[:-1] + "0"}
    for source in SOURCES:
        land_source(tmp_path, source, wrong if source == "sim_inventory" else {}, rows=100)
    args = ("--max-quarantine", "sim_inventory=10%", "--validate")
    result = invoke(tmp_path, "run", "--business-date", str(BD), *args)
    assert result.exit_code == 2, result.output
    assert (
        f"sim_inventory {BD}: expect_column_values_to_be_in_set on _quarantined (critical, "
        "mostly 0.99): 5 of 100 rows unexpected (5.00% of non-null)"
    ) in result.output
    assert "on iccid" not in result.output  # well formed: no format check fails
    assert not (tmp_path / "warehouse" / "cases").exists()
    assert not (tmp_path / "warehouse" / "curated").exists()
