"""The night gate's judgement (contract section 1.0) and its settings, with near misses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from pipelines.contract import SOURCES
from pipelines.ingest.gate import check_inventory, judge_sources
from pipelines.settings import ConfigError, GateSettings, gate_settings, parse_share

D, BEFORE = date(2024, 4, 2), date(2024, 4, 1)


def stats(read: int, quarantined: int) -> dict[str, int]:
    return {"rows_read": read, "rows_loaded": read - quarantined, "rows_quarantined": quarantined}


def iccids(*numbers: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"iccid": [f"894400000000000{n:05d}" for n in numbers]}, {"iccid": pl.String}
    )


def test_a_source_may_quarantine_its_threshold_share_and_not_one_row_more() -> None:
    got = judge_sources(
        {"billing_lines": stats(1000, 10), "store_transactions": stats(1000, 11)}, GateSettings()
    )
    assert got["billing_lines"].passed
    assert got["store_transactions"].problems == ("1.10% of the rows quarantined",)
    assert judge_sources({"billing_lines": stats(0, 0)}, GateSettings())["billing_lines"].passed


def test_the_source_line_says_read_loaded_quarantined_share_and_verdict() -> None:
    verdict = judge_sources({"billing_lines": stats(193, 58)}, GateSettings())["billing_lines"]
    assert verdict.line(D) == (
        "2024-04-02 billing_lines       read      193  loaded      135  quarantined      58 "
        "(30.05%, max 1.00%)  REFUSED: 30.05% of the rows quarantined"
    )


def test_an_empty_inventory_is_refused_even_on_the_first_night() -> None:
    _, problems = check_inventory(iccids(), None, None, GateSettings())
    assert problems == ["the snapshot is empty"]
    _, problems = check_inventory(iccids(), iccids(1, 2).lazy(), BEFORE, GateSettings())
    assert problems == ["the snapshot is empty (the 2024-04-01 snapshot held 2 ICCIDs)"]


def test_an_inventory_must_keep_the_share_of_the_previous_iccids() -> None:
    previous = iccids(*range(100)).lazy()
    kept_98 = iccids(*range(2, 100))
    check, problems = check_inventory(kept_98, previous, BEFORE, GateSettings())
    assert (problems, check.kept, check.previous_iccids) == ([], 98, 100)
    swapped = iccids(*range(3, 100), 500, 501, 502)  # as many SIMs, but three lost
    _, problems = check_inventory(swapped, previous, BEFORE, GateSettings())
    assert problems == [
        "it holds 97 of the 100 ICCIDs of the 2024-04-01 snapshot (97.00%, at least 98.00% needed)"
    ]
    lenient = GateSettings(inventory_min_share=Decimal("0.97"))
    assert check_inventory(swapped, previous, BEFORE, lenient)[1] == []


@pytest.mark.parametrize(
    ("raw", "share"),
    [("0.01", "0.01"), ("1%", "0.01"), ("0", "0"), ("100%", "1"), (" 2.5% ", "0.025")],
)
def test_shares_are_fractions_or_percentages(raw: str, share: str) -> None:
    assert parse_share(raw, "X") == Decimal(share)


@pytest.mark.parametrize("raw", ["", "abc", "1.5", "-1%", "101%", "NaN", "inf"])
def test_a_share_out_of_range_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="X="):
        parse_share(raw, "X")


def test_thresholds_from_defaults_environment_and_command_line() -> None:
    assert gate_settings({}).quarantine_max == dict.fromkeys(SOURCES, Decimal("0.01"))
    env = {"RECON_QUARANTINE_MAX": "2%", "RECON_QUARANTINE_MAX_BILLING_LINES": "0.05"}
    got = gate_settings(env)
    assert got.quarantine_max["billing_lines"] == Decimal("0.05")
    assert got.quarantine_max["sim_inventory"] == Decimal("0.02")
    cli = gate_settings(env, ["sim_inventory=0", "3%"], "95%", allow_gap=True)
    assert cli.quarantine_max == {
        **dict.fromkeys(SOURCES, Decimal("0.03")),
        "sim_inventory": Decimal("0"),
    }
    assert (cli.inventory_min_share, cli.allow_gap) == (Decimal("0.95"), True)
    assert cli.summary()["quarantine_max"]["sim_inventory"] == "0"  # type: ignore[index]
    with pytest.raises(ConfigError, match="unknown source 'billing'"):
        gate_settings({}, ["billing=1%"])
    with pytest.raises(ConfigError, match="RECON_INVENTORY_MIN_SHARE"):
        gate_settings({"RECON_INVENTORY_MIN_SHARE": "most"})


def test_settings_know_the_contract_sources() -> None:
    from pipelines import settings

    assert settings.SOURCES == SOURCES  # repeated there to keep settings light
