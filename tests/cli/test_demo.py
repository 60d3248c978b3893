"""`recon demo` tells the whole story (validated nights, a night with quarantined rows,
customers with several cases, letters held, recovered cases) and does not wipe a
warehouse people have worked in (triaged cases, desk accounts)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.casestore import open_store
from pipelines.casestore.accounts import Accounts
from pipelines.cli.main import DEMO_MARKER, main
from tests.support.cases import Runs, det
from tests.support.desk import fast_hashing, login, make_client

CUSTOMERS, DAYS = "50", "70"
DATES = [date(2024, 1, 1) + timedelta(days=n) for n in range(int(DAYS))]
LETTER_RULES = ("WRONG_DISCONNECT_LETTER", "LETTER_TO_DEPARTED_CUSTOMER")


def demo(out: Path, *args: str):
    return CliRunner().invoke(
        main, ["demo", "--out", str(out), "--customers", CUSTOMERS, "--days", DAYS, *args]
    )


def earlier_demo(out: Path, triaged: bool) -> Path:
    """A folder an earlier demo made: one case, and a person's change when `triaged`."""
    (out / "warehouse").mkdir(parents=True)
    (out / DEMO_MARKER).write_text("created by recon demo\n")
    case = det(key="earlier")
    with open_store(None, str(out / "warehouse")) as store:
        Runs(store)(DATES[0], case)
        if triaged:
            store.set_status(str(case["case_id"]), "acknowledged", "lena", "credit raised")
    return out / "warehouse" / "recon.db"


def test_a_triaged_demo_is_refused_and_kept(tmp_path):
    db = earlier_demo(tmp_path / "demo", triaged=True)
    before = db.read_bytes()
    result = demo(tmp_path / "demo")
    assert result.exit_code == 1
    assert "holds what people made: 1 change to its cases" in result.output
    assert "recon demo --fresh" in result.output
    assert db.read_bytes() == before
    assert not (tmp_path / "demo" / "landing").exists()
    with open_store(None, str(tmp_path / "demo" / "warehouse")) as store:
        assert store.people_changes() == 1


def test_a_demo_with_desk_accounts_is_refused_and_kept(tmp_path):
    db = earlier_demo(tmp_path / "demo", triaged=False)
    fast_hashing()
    with open_store(None, str(tmp_path / "demo" / "warehouse")) as store:
        Accounts(store.engine).add("lena", "lead", "a long passphrase")
    before = db.read_bytes()
    result = demo(tmp_path / "demo")
    assert result.exit_code == 1
    assert "holds what people made: 1 desk account; a new demo would wipe it" in result.output
    assert db.read_bytes() == before


def test_fresh_replaces_a_triaged_demo(tmp_path):
    db = earlier_demo(tmp_path / "demo", triaged=True)
    # Too few customers: the generator refuses, after the guard let the demo through.
    result = CliRunner().invoke(
        main, ["demo", "--out", str(tmp_path / "demo"), "--fresh", "--customers", "10"]
    )
    assert "generating 10 customers" in result.output
    assert not db.exists()


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """One demo, over an earlier demo that nobody triaged (replaced without --fresh)."""
    out = tmp_path_factory.mktemp("story") / "demo"
    earlier_demo(out, triaged=False)
    result = demo(out)
    assert result.exit_code == 0, result.output
    return out, result.output


def night_summary(out: Path, day: date) -> dict:
    folder = out / "warehouse" / "cases" / f"business_date={day}"
    return json.loads((folder / "summary.json").read_text())


def test_every_night_is_validated(story):
    out, output = story
    assert f"data quality:  {DAYS} of {DAYS} nights validated, {DAYS} passed every suite" in output
    for day in (DATES[0], DATES[-1]):
        assert night_summary(out, day)["quality"]["validated"] is True


def test_one_night_has_a_few_quarantined_rows_and_passes(story):
    out, output = story
    middle = DATES[len(DATES) // 2]
    summary = night_summary(out, middle)
    inventory = summary["sources"]["sim_inventory"]
    assert 0 < inventory["rows_quarantined"] <= inventory["rows_read"] // 100
    assert summary["gate"]["sources"]["sim_inventory"]["verdict"] == "passed"
    assert f"quarantined:   {middle} sim_inventory: {inventory['rows_quarantined']} of" in output
    quarantined = [
        d
        for d in DATES
        if any(s["rows_quarantined"] for s in night_summary(out, d)["sources"].values())
    ]
    assert quarantined == [middle]
    report = (out / "warehouse" / "cases" / f"business_date={middle}" / "report.html").read_text()
    assert (
        f"sim_inventory {inventory['rows_read']} read, {inventory['rows_loaded']} loaded, "
        f"{inventory['rows_quarantined']} quarantined" in report
    )
    docs = (out / "warehouse" / "quality" / "pages" / "index.html").read_text()
    assert (
        f"{inventory['rows_read']} rows: {inventory['rows_loaded']} loaded, "
        f"{inventory['rows_quarantined']} quarantined"
    ) in docs
    # The desk's nights page flags it.
    fast_hashing()
    db_url = f"sqlite:///{out / 'warehouse' / 'recon.db'}"
    with open_store(db_url) as store:
        Accounts(store.engine).add("audra", "auditor", "a long passphrase")
    client = make_client(db_url, out / "warehouse")
    login(client, "audra", "a long passphrase")
    nights = client.get("/nights").text
    assert f'<b class="flag">{inventory["rows_quarantined"]}</b>' in nights
    page = client.get(f"/nights/{middle}").text
    assert "Luhn" in page or "check digit" in page


def test_customers_with_cases_of_several_rules_across_channels(story):
    _, output = story
    line = next(t for t in output.splitlines() if t.startswith("customers:"))
    assert int(line.split()[1]) >= 2
    examples = output.split("customers:", 1)[1].split("letters held:")[0]
    assert "SWAP_NOT_PROVISIONED, WRONG_DISCONNECT_LETTER" in examples
    assert "online" in examples and "telesales" in examples


def test_the_letters_of_tonights_letter_cases_are_held(story):
    out, output = story
    truth = json.loads((out / "landing" / "_ground_truth.json").read_text())
    letters = [c for c in truth["cases"] if c["rule_id"] in LETTER_RULES]
    counts = {r: sum(1 for c in letters if c["rule_id"] == r) for r in LETTER_RULES}
    assert (
        f"letters held:  {len(letters)} letters of tonight's letter cases "
        f"(WRONG_DISCONNECT_LETTER {counts['WRONG_DISCONNECT_LETTER']}, "
        f"LETTER_TO_DEPARTED_CUSTOMER {counts['LETTER_TO_DEPARTED_CUSTOMER']})"
    ) in output


def test_recovered_cases_are_closed_as_no_longer_detected(story):
    out, output = story
    with open_store(None, str(out / "warehouse")) as store:
        recovered = [
            c
            for c in store.list_cases(status="resolved")
            if c["resolution"] == "no_longer_detected"
        ]
    assert recovered
    noun = "case" if len(recovered) == 1 else "cases"
    assert f"recovered:     {len(recovered)} {noun} closed as no_longer_detected" in output
    assert recovered[0]["case_id"] in output
