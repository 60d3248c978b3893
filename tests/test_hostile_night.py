"""Hostile input through a whole `recon run`: links refused unread, Parquet of the wrong type
refused, formulas neutralised in every CSV recon writes, no input unescaped in its HTML."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.storage import parquet_bytes
from tests.support.landing import BD, ICCID_2, billing_row, land_night
from tests.support.nights import recon

FORMULA = "=1+1"


def night_with(tmp_path: Path, **rows) -> tuple[Path, Path]:
    land_night(tmp_path, BD, **rows)
    return tmp_path / "landing", tmp_path / "warehouse"


def relink(landing: Path, name: str, target: Path) -> None:
    """Replace the billing part by a link to `target`, the manifest naming its checksum."""
    folder = landing / "billing_lines" / f"business_date={BD}"
    (folder / "part-0000.csv").unlink()
    (folder / name).symlink_to(target)
    manifest = json.loads((folder / "_manifest.json").read_text())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    manifest["files"] = [{"name": name, "rows": 1, "sha256": digest}]
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def assert_nothing_of_the_night(warehouse: Path) -> None:
    assert not (warehouse / "cases").exists()
    assert not (warehouse / "curated").exists()
    assert not list(warehouse.glob("staging/*/*"))


def test_a_link_to_etc_passwd_is_refused_and_never_echoed(tmp_path):
    landing, warehouse = night_with(tmp_path)
    relink(landing, "part-0000.csv", Path("/etc/passwd"))
    result = recon(landing, warehouse, "run", "--business-date", BD)
    assert result.exit_code == 2, result.output
    assert "billing_lines/business_date=2024-04-01/part-0000.csv: a symbolic link, refused" in (
        result.output
    )
    first_line = Path("/etc/passwd").read_text().splitlines()[0]
    assert first_line not in result.output and "root:" not in result.output
    assert_nothing_of_the_night(warehouse)


def test_parquet_money_as_a_float_refuses_the_night(tmp_path):
    landing, warehouse = night_with(tmp_path)
    native = pl.DataFrame([billing_row(line_id=f"L1-{BD}")]).with_columns(
        pl.col("period_start", "period_end").str.to_date(), pl.col("amount").cast(pl.Float64)
    )
    target = tmp_path / "part.parquet"
    target.write_bytes(parquet_bytes(native))
    folder = landing / "billing_lines" / f"business_date={BD}"
    (folder / "part-0000.csv").unlink()
    (folder / "part-0000.parquet").write_bytes(target.read_bytes())
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["files"] = [
        {
            "name": "part-0000.parquet",
            "rows": 1,
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        }
    ]
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    result = recon(landing, warehouse, "run", "--business-date", BD)
    assert result.exit_code == 2, result.output
    assert (
        "billing_lines/business_date=2024-04-01/part-0000.parquet: column 'amount' is Float64 "
        "but the contract needs a decimal or a decimal string"
    ) in result.output
    assert_nothing_of_the_night(warehouse)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_formulas_are_neutralised_in_every_csv(tmp_path):
    """A billing line of `=1+1` on a SIM the inventory does not hold (a case), and a line
    with an unreadable amount (quarantined, its negative amount text kept as a number)."""
    charged = billing_row(customer_id=FORMULA, iccid=ICCID_2, description="@SUM(A1)")
    broken = billing_row(line_id="L2", customer_id="+44", amount="-1.234", tariff_code="-x")
    landing, warehouse = night_with(tmp_path, billing_lines=[charged, broken])
    result = recon(
        landing, warehouse, "run", "--business-date", BD, "--max-quarantine", "billing_lines=0.5"
    )
    assert result.exit_code == 0, result.output

    cases = read_csv(warehouse / f"cases/business_date={BD}/cases.csv")
    unknown = [c for c in cases if c["rule_id"] == "UNKNOWN_SIM_CHARGED"]
    assert [c["customer_id"] for c in unknown] == ["'=1+1"]
    assert unknown[0]["amount_at_risk"] == "20.00"
    parquet = pl.read_parquet(warehouse / f"cases/business_date={BD}/cases.parquet")
    assert FORMULA in parquet["customer_id"].to_list()  # the exact value is kept there

    quarantine = read_csv(warehouse / f"quarantine/billing_lines/business_date={BD}/quarantine.csv")
    assert [(q["customer_id"], q["amount"], q["tariff_code"]) for q in quarantine] == [
        ("'+44", "-1.234", "'-x")
    ]

    listed = CliRunner().invoke(
        main, ["cases", "list", "--format", "csv", "--db", f"sqlite:///{warehouse / 'recon.db'}"]
    )
    assert listed.exit_code == 0, listed.output
    rows = list(csv.DictReader(io.StringIO(listed.output)))
    assert {r["customer_id"] for r in rows if r["rule_id"] == "UNKNOWN_SIM_CHARGED"} == {"'=1+1"}
    assert FORMULA not in {r["customer_id"] for r in rows}


HOSTILE = "<script>alert(1)</script>"


def test_no_input_is_unescaped_in_any_published_html(tmp_path):
    """A `<script>` charge type (quarantined, shown as an example on the quality page) and
    customer (in a case of the report), through a validated run."""
    filler = [
        billing_row(line_id=f"F{i}", charge_type="one_off", iccid=None, msisdn=None)
        for i in range(150)
    ]
    hostile = [
        billing_row(line_id="H1", charge_type=HOSTILE),
        billing_row(line_id="H2", customer_id=HOSTILE, iccid=ICCID_2),
    ]
    landing, warehouse = night_with(tmp_path, billing_lines=filler + hostile)
    result = recon(landing, warehouse, "run", "--business-date", BD, validate=True)
    assert result.exit_code == 0, result.output
    pages = sorted(p.relative_to(warehouse).as_posix() for p in warehouse.rglob("*.html"))
    assert pages == [
        f"cases/business_date={BD}/report.html",
        f"quality/pages/business_date={BD}/index.html",
        "quality/pages/index.html",
    ]
    for page in pages:
        text = (warehouse / page).read_text()
        assert "<script" not in text.lower(), page
        assert "http://" not in text and "https://" not in text, page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escaped in (warehouse / f"quality/pages/business_date={BD}/index.html").read_text()
    assert escaped in (warehouse / f"cases/business_date={BD}/report.html").read_text()
