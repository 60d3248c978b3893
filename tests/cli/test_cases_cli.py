"""`recon cases` on a SQLite case store, through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipelines.casestore import CaseStore, open_store
from pipelines.cli.cases import LIST_COLUMNS, cases
from pipelines.settings import ConfigError, case_store_url, default_db_url
from tests.support.cases import D1, D2, det, night

LETTER = det(
    "WRONG_DISCONNECT_LETTER",
    key="L",
    letter_id="L1",
    amount="30.00",
    evidence=json.dumps({"letter_id": "L1", "fees": ["10.00", "20.00"]}),
)
CHARGE = det(key="a", amount="0.10")
TARIFF = det("TARIFF_MISMATCH", key="t", amount="-3.50", customer="C2")
UNKNOWN = "0000000000000000"


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse whose recon.db holds two nights; the env points nowhere else."""
    monkeypatch.delenv("RECON_DB_URL", raising=False)
    monkeypatch.delenv("RECON_WAREHOUSE", raising=False)
    root = tmp_path / "warehouse"
    with CaseStore(default_db_url(str(root))) as store:
        store.record_night(D1, night(LETTER, CHARGE), "r1")
        store.record_night(D2, night(LETTER, det(key="a", amount="0.20"), TARIFF), "r2")
    return root


def cli(warehouse: Path, *args: str) -> Result:
    return CliRunner().invoke(cases, [*args, "--warehouse", str(warehouse)])


def test_list_is_an_aligned_table_by_default(warehouse: Path) -> None:
    result = cli(warehouse, "list")
    assert result.exit_code == 0, result.output
    header, *rows, footer = result.output.splitlines()
    assert header.split()[:4] == ["case_id", "rule_id", "severity", "status"]
    assert [r.split()[0] for r in rows] == [LETTER["case_id"], CHARGE["case_id"], TARIFF["case_id"]]
    assert footer == "3 cases"
    starts = {
        line.index("status") if line is header else line.index(" open ") + 1
        for line in (header, *rows)
    }
    assert len(starts) == 1  # the status column lines up
    assert "-3.50 GBP" in result.output


def test_list_filters_and_formats(warehouse: Path) -> None:
    result = cli(warehouse, "list", "--format", "csv", "--customer", "C1")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert tuple(rows[0]) == LIST_COLUMNS
    assert [r["case_id"] for r in rows] == [LETTER["case_id"], CHARGE["case_id"]]
    assert rows[1]["amount_at_risk"] == "0.20" and rows[1]["times_seen"] == "2"

    def ids(*args: str) -> list[str]:
        result = cli(warehouse, "list", "--format", "json", *args)
        assert result.exit_code == 0, result.output
        return [c["case_id"] for c in json.loads(result.output)]

    assert ids("--rule", "TARIFF_MISMATCH") == [TARIFF["case_id"]]
    assert ids("--severity", "critical") == [LETTER["case_id"]]
    assert ids("--min-amount", "0.20") == [LETTER["case_id"], CHARGE["case_id"]]
    assert ids("--min-age", "1") == [LETTER["case_id"], CHARGE["case_id"]]
    assert ids("--min-age", "2", "--as-of", "2024-04-03") == ids("--min-age", "1")
    assert ids("--status", "resolved") == []
    assert (
        json.loads(cli(warehouse, "list", "--format", "json", "--rule", "TARIFF_MISMATCH").output)[
            0
        ]["amount_at_risk"]
        == "-3.50"
    )
    assert cli(warehouse, "list", "--status", "resolved").output == "no cases match\n"
    assert cli(warehouse, "list", "--status", "closed").exit_code == 2
    assert cli(warehouse, "list", "--min-amount", "lots").exit_code == 2


def test_store_comes_from_db_option_or_env(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = default_db_url(str(warehouse))
    assert CliRunner().invoke(cases, ["list", "--db", url]).output.endswith("3 cases\n")
    monkeypatch.setenv("RECON_DB_URL", url)
    assert CliRunner().invoke(cases, ["list"]).output.endswith("3 cases\n")
    monkeypatch.delenv("RECON_DB_URL")
    monkeypatch.setenv("RECON_WAREHOUSE", str(warehouse))
    assert CliRunner().invoke(cases, ["list"]).output.endswith("3 cases\n")
    missing = cli(tmp_path / "elsewhere", "list")
    assert missing.exit_code == 2 and "no case store" in missing.output


def test_show_prints_case_evidence_history_and_other_cases(warehouse: Path) -> None:
    result = cli(warehouse, "show", str(CHARGE["case_id"]))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "rule_id           CHARGE_AFTER_DEACTIVATION" in out  # keys aligned
    assert "amount_at_risk: 0.10 -> 0.20" in out
    assert "recon  created  - -> open  first detected on 2024-04-01" in out
    others = out.split("other cases of customer C1: 1")[1]
    assert str(LETTER["case_id"]) in others and str(TARIFF["case_id"]) not in others

    letter = cli(warehouse, "show", str(LETTER["case_id"])).output
    assert '    "letter_id": "L1",' in letter  # evidence pretty-printed
    assert '      "20.00"' in letter


@pytest.fixture
def os_user(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("RECON_TOKEN", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "alice")
    return "os:alice"


def test_set_status_records_the_os_user(warehouse: Path, os_user: str) -> None:
    cid = str(CHARGE["case_id"])
    result = cli(warehouse, "set-status", cid, "acknowledged", "--note", "on it")
    assert result.exit_code == 0, result.output
    assert result.output == f"case {cid}: open -> acknowledged (by {os_user})\n"
    again = cli(warehouse, "set-status", cid, "acknowledged", "--note", "x")
    assert "nothing changed" in again.output
    cli(warehouse, "set-status", cid, "resolved", "--note", "credit raised")
    with open_store(case_store_url(warehouse=str(warehouse))) as store:
        got = store.get_case(cid)
    assert got is not None
    assert (got["status"], got["resolution"]) == ("resolved", "manual")
    assert [(h["actor"], h["note"]) for h in got["history"][-2:]] == [
        (os_user, "on it"),
        (os_user, "credit raised"),
    ]
    shown = cli(warehouse, "show", cid).output
    assert f"{os_user}  status_changed  open -> acknowledged  on it" in shown

    assert cli(warehouse, "set-status", cid, "closed", "--note", "x").exit_code == 2
    assert cli(warehouse, "set-status", cid, "open").exit_code == 2
    typed = cli(warehouse, "set-status", cid, "open", "--by", "bob", "--note", "x")
    assert typed.exit_code == 2 and "--by is gone" in typed.output


def test_a_token_records_its_account_and_its_role(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.casestore.accounts import Accounts

    cid = str(CHARGE["case_id"])
    with open_store(case_store_url(warehouse=str(warehouse))) as store:
        accounts = Accounts(store.engine)
        accounts.add("lena", "lead", None)
        accounts.add("audrey", "auditor", None)
        lead, auditor = accounts.issue_token("lena"), accounts.issue_token("audrey")
    monkeypatch.setenv("RECON_TOKEN", auditor)
    refused = cli(warehouse, "set-status", cid, "resolved", "--note", "x")
    assert refused.exit_code == 2 and "auditor" in refused.output
    monkeypatch.setenv("RECON_TOKEN", lead)
    done = cli(warehouse, "set-status", cid, "resolved", "--note", "credited")
    assert done.exit_code == 0 and "(by lena)" in done.output
    monkeypatch.setenv("RECON_TOKEN", "recon_revoked-or-made-up")
    assert cli(warehouse, "assign", cid, "lena").exit_code == 2


def test_assign(warehouse: Path, os_user: str) -> None:
    cid = str(TARIFF["case_id"])
    result = cli(warehouse, "assign", cid, "bob", "--note", "billing team")
    assert result.exit_code == 0, result.output
    assert result.output == f"case {cid} assigned to bob (by {os_user})\n"
    assert "nothing changed" in cli(warehouse, "assign", cid, "bob").output
    listed = cli(warehouse, "list", "--format", "json", "--customer", "C2").output
    assert json.loads(listed)[0]["owner"] == "bob"
    assert "owner: - -> bob" in cli(warehouse, "show", cid).output


@pytest.mark.parametrize(
    "args",
    [
        ["show", UNKNOWN],
        ["set-status", UNKNOWN, "resolved", "--note", "x"],
        ["assign", UNKNOWN, "bob"],
    ],
)
def test_unknown_case_id_exits_2(warehouse: Path, args: list[str], os_user: str) -> None:
    result = cli(warehouse, *args)
    assert result.exit_code == 2
    assert f"unknown case id: {UNKNOWN}" in result.output


def test_case_store_url(tmp_path: Path) -> None:
    assert case_store_url(None, str(tmp_path), {}) == f"sqlite:///{tmp_path.resolve()}/recon.db"
    env = {"RECON_WAREHOUSE": str(tmp_path / "env")}
    assert case_store_url(None, None, env) == f"sqlite:///{tmp_path.resolve()}/env/recon.db"
    assert case_store_url(None, str(tmp_path), {"RECON_DB_URL": "sqlite://"}) == "sqlite://"
    assert case_store_url("postgresql://h/db", None, {"RECON_DB_URL": "sqlite://"}) == (
        "postgresql://h/db"
    )
    with pytest.raises(ConfigError, match="give --db or --warehouse"):  # no hidden default
        case_store_url(None, None, {})
    with pytest.raises(ConfigError, match="RECON_DB_URL"):
        case_store_url(None, "s3://bucket/warehouse", {})


def test_open_store_resolves_the_url(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECON_DB_URL", default_db_url(str(warehouse)))
    with open_store() as store:
        assert len(store.list_cases()) == 3
    with open_store(None, str(tmp_path / "new")) as store:  # the env wins over a warehouse
        assert len(store.list_cases()) == 3
    monkeypatch.delenv("RECON_DB_URL")
    with open_store(None, str(tmp_path / "new")) as store:  # a fresh store is created
        assert store.list_cases() == []
    assert (tmp_path / "new" / "recon.db").exists()


def test_a_read_only_store_is_one_line_exit_1(warehouse: Path) -> None:
    read_only = f"sqlite:///file:{warehouse / 'recon.db'}?mode=ro&uri=true"
    result = CliRunner().invoke(
        cases,
        [
            "set-status",
            str(CHARGE["case_id"]),
            "acknowledged",
            "--note",
            "n",
            "--db",
            read_only,
        ],
    )
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: case store sqlite:///")
    assert line.endswith("recon.db?mode=ro&uri=true: attempt to write a readonly database")
    assert "Traceback" not in result.output and "SQL" not in result.output


def test_an_unreachable_database_is_one_line_exit_1() -> None:
    url = "postgresql+psycopg://recon:secret@127.0.0.1:1/recon"
    result = CliRunner().invoke(cases, ["list", "--db", url])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: case store postgresql+psycopg://recon:***@127.0.0.1:1/recon: ")
    assert "secret" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("amount", ["NaN", "-Infinity", "snan"])
def test_a_min_amount_that_is_not_a_number_is_a_usage_error(warehouse: Path, amount: str) -> None:
    result = cli(warehouse, "list", "--min-amount", amount)
    assert result.exit_code == 2
    assert f"not a finite amount: {amount}" in result.output
    assert "Traceback" not in result.output


def test_list_shows_and_filters_the_amount_kind(warehouse: Path) -> None:
    result = cli(warehouse, "list", "--kind", "revenue_leakage")
    assert result.exit_code == 0, result.output
    header, *rows, footer = result.output.splitlines()
    assert "amount_kind" in header.split()
    assert [r.split()[0] for r in rows] == [TARIFF["case_id"]] and footer == "1 case"
    assert "-3.50 GBP  revenue_leakage" in rows[0]
    assert cli(warehouse, "list", "--kind", "refunds").exit_code == 2
