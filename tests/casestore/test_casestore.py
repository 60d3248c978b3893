"""The case store on SQLite and PostgreSQL: case lifecycle, reruns, triage, money, DDL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from pipelines.casestore import CaseNotFound, CaseStore
from pipelines.casestore.nightly import NightWriter
from pipelines.casestore.schema import DDL_PATH, case_sightings, metadata, render_ddl, runs
from pipelines.catalogue import CASE_COLUMNS, DETECTION_COLUMNS, RULE_SPECS
from pipelines.storage import parquet_bytes
from tests.support.cases import D1, D2, D3, D4, Runs, case, det, night

QUERIES_PATH = Path(__file__).resolve().parents[2] / "sql" / "case_queries.sql"
NEVER_CLOSED = ("UNBILLED_ACTIVE_LINE", "WRONG_DISCONNECT_LETTER", "LETTER_TO_DEPARTED_CUSTOMER")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cases.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    with CaseStore(url) as s:
        yield s


@pytest.fixture
def run(store: CaseStore) -> Runs:
    return Runs(store)


def history_rows(store: CaseStore) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM case_history ORDER BY id"))]


def test_new_detection_opens_a_case(store: CaseStore, run: Runs) -> None:
    a, b = det(key="a"), det("TARIFF_MISMATCH", key="b", msisdn="447700900123")
    outcome = run(D1, b, a)
    pub = outcome.published
    assert pub.columns[: len(CASE_COLUMNS)] == list(CASE_COLUMNS)
    assert pub.columns[len(CASE_COLUMNS) :] == ["amount_kind", "resolution", "owner", "times_seen"]
    assert pub["amount_kind"].to_list() == ["refund_due", "refund_due"]
    assert pub.schema["first_seen"] == pl.Date() and pub.schema["business_date"] == pl.Date()
    assert pub["rule_id"].to_list() == ["CHARGE_AFTER_DEACTIVATION", "TARIFF_MISMATCH"]
    assert pub["status"].to_list() == ["open", "open"]
    assert pub["first_seen"].to_list() == pub["last_seen"].to_list() == [D1, D1]
    assert pub["business_date"].to_list() == [D1, D1]
    assert outcome.counts["CHARGE_AFTER_DEACTIVATION"] == {
        "new": 1,
        "still_open": 0,
        "closed": 0,
        "withdrawn": 0,
    }
    assert set(outcome.counts) == set(RULE_SPECS)
    got = case(store, a)
    assert {k: got[k] for k in DETECTION_COLUMNS} == a
    assert (got["status"], got["resolution"], got["times_seen"]) == ("open", None, 1)
    [created] = got["history"]
    assert (created["actor"], created["action"], created["new_status"]) == (
        "recon",
        "created",
        "open",
    )
    assert (created["business_date"], created["run_id"]) == (D1, "run-1")


def test_seen_again_moves_last_seen_and_counts_sightings(store: CaseStore, run: Runs) -> None:
    a = det()
    run(D1, a)
    outcome = run(D2, a)
    assert outcome.counts["CHARGE_AFTER_DEACTIVATION"] == {
        "new": 0,
        "still_open": 1,
        "closed": 0,
        "withdrawn": 0,
    }
    assert outcome.published.row(0, named=True)["first_seen"] == D1
    got = case(store, a)
    assert (got["first_seen"], got["last_seen"], got["times_seen"]) == (D1, D2, 2)
    assert [h["action"] for h in got["history"]] == ["created"]  # no row per sighting
    run(D2, a)
    run(D1, a)
    assert case(store, a)["times_seen"] == 2
    with store.engine.connect() as conn:
        nights = (
            conn.execute(
                select(case_sightings.c.business_date).order_by(case_sightings.c.business_date)
            )
            .scalars()
            .all()
        )
    assert nights == [D1, D2]


def test_auto_close_only_for_rules_that_rejudge_history(store: CaseStore, run: Runs) -> None:
    everything = [det(rule, key=rule) for rule in RULE_SPECS]
    run(D1, *everything)
    store.set_status(str(everything[0]["case_id"]), "acknowledged", "alice", "looking")
    outcome = run(D2)
    for d in everything:
        got = case(store, d)
        rule = str(d["rule_id"])
        if RULE_SPECS[rule].rejudges_history:
            assert (got["status"], got["resolution"], got["closed_on"]) == (
                "resolved",
                "no_longer_detected",
                D2,
            )
            closed = got["history"][-1]
            assert (closed["action"], closed["actor"], closed["new_status"]) == (
                "closed",
                "recon",
                "resolved",
            )
            assert closed["note"] == "no longer detected on 2024-04-02: 10.00 GBP no longer at risk"
            assert outcome.counts[rule]["closed"] == 1
        else:
            assert rule in NEVER_CLOSED
            assert (got["status"], got["resolution"]) == ("open", None)
            assert outcome.counts[rule]["closed"] == 0
    assert case(store, everything[0])["history"][-1]["old_status"] == "acknowledged"
    run(D3)
    run(D4)
    assert {str(c["rule_id"]) for c in store.list_cases(status="open")} == set(NEVER_CLOSED)


def test_rerun_of_the_same_night_changes_nothing(store: CaseStore, run: Runs) -> None:
    a, b, c = det(key="a"), det(key="b"), det("WRONG_DISCONNECT_LETTER", key="c", letter_id="L1")
    run(D1, a, b)
    first = run(D2, a, c, det(key="b", amount="12.50"))  # b: amount changed
    cases_before, history_before = store.list_cases(), history_rows(store)
    again = run(D2, a, c, det(key="b", amount="12.50"))
    assert again.published.equals(first.published)
    assert parquet_bytes(again.published) == parquet_bytes(first.published)
    assert again.counts == first.counts
    assert history_rows(store) == history_before
    assert store.list_cases() == cases_before


def test_rerun_of_an_older_night_closes_nothing(store: CaseStore, run: Runs) -> None:
    a, b = det(key="a"), det(key="b")
    run(D1, a, b)
    run(D2, a, b)
    run(D3, a, b)
    before = history_rows(store)
    run(D1, a)
    assert case(store, b)["status"] == "open"
    assert history_rows(store) == before


def test_rerun_of_an_older_night_republishes_what_that_night_published(
    store: CaseStore, run: Runs
) -> None:
    a, b = det(key="a"), det(key="b")
    first = run(D2, a, b).published
    run(D3, a)  # b closes as no longer detected
    store.set_status(str(a["case_id"]), "acknowledged", by="alice")
    again = run(D2, a, b).published
    assert again.select(CASE_COLUMNS).equals(first.select(CASE_COLUMNS))
    assert again["status"].to_list() == ["open", "open"]
    assert again["last_seen"].to_list() == [D2, D2]
    assert case(store, b)["status"] == "resolved"


def test_rerun_of_an_older_night_counts_what_that_night_counted(
    store: CaseStore, run: Runs
) -> None:
    a, b = det(key="a"), det(key="b")
    run(D1, a, b)
    first = run(D2, a)  # b closes on D2
    run(D3)  # a closes on D3
    assert run(D2, a).counts == first.counts


def test_out_of_order_backfill_closes_only_on_the_latest_night(store: CaseStore, run: Runs) -> None:
    a, b = det(key="a"), det(key="b")
    run(D3, a)
    run(D1, a, b)  # b is new, last seen D1, but D3 is already recorded
    run(D2, a)
    assert case(store, b)["status"] == "open"
    run(D3, a)  # the latest night again: now b goes
    assert case(store, b)["resolution"] == "no_longer_detected"
    assert case(store, a)["first_seen"] == D1


def test_reopen_after_no_longer_detected(store: CaseStore, run: Runs) -> None:
    a = det()
    run(D1, a)
    run(D2)
    assert case(store, a)["status"] == "resolved"
    run(D1, a)  # an older night than the close: stays closed
    assert case(store, a)["status"] == "resolved"
    outcome = run(D3, a)
    got = case(store, a)
    assert (got["status"], got["resolution"], got["closed_on"]) == ("open", None, None)
    assert (got["last_seen"], got["times_seen"]) == (D3, 2)
    reopened = got["history"][-1]
    assert (reopened["action"], reopened["actor"], reopened["old_status"]) == (
        "reopened",
        "recon",
        "resolved",
    )
    assert reopened["note"] == "detected again on 2024-04-03"
    assert outcome.published["status"].to_list() == ["open"]
    assert outcome.counts["CHARGE_AFTER_DEACTIVATION"]["still_open"] == 1


def test_rerun_of_the_closing_night_that_finds_the_case_reopens_it(
    store: CaseStore, run: Runs
) -> None:
    a = det()
    run(D1, a)
    run(D2)
    assert run(D2, a).published["status"].to_list() == ["open"]


def test_a_persons_status_sticks(store: CaseStore, run: Runs) -> None:
    fp, done, ack = det(key="fp"), det(key="done"), det(key="ack")
    run(D1, fp, done, ack)
    store.set_status(str(fp["case_id"]), "false_positive", "alice", "known tariff quirk")
    store.set_status(str(done["case_id"]), "resolved", "bob", "credit raised")
    store.set_status(str(ack["case_id"]), "acknowledged", "carol", "on it")
    published = run(D2, fp, done, ack).published
    assert sorted(published["status"]) == ["acknowledged", "false_positive", "resolved"]
    assert case(store, done)["resolution"] == "manual"
    run(D3)
    assert case(store, fp)["status"] == "false_positive"
    assert (case(store, done)["status"], case(store, done)["resolution"]) == ("resolved", "manual")
    assert case(store, ack)["resolution"] == "no_longer_detected"
    run(D4, fp, done)
    assert case(store, fp)["status"] == "false_positive"
    assert case(store, done)["status"] == "resolved"


def test_history_is_append_only_and_records_who_when_why(store: CaseStore, run: Runs) -> None:
    a = det()
    cid = str(a["case_id"])
    run(D1, a)
    snapshots = [history_rows(store)]
    before = datetime.now(UTC)
    assert store.set_status(cid, "acknowledged", "alice", "calling the customer")
    snapshots.append(history_rows(store))
    assert store.assign(cid, "bob", "alice", "billing team")
    snapshots.append(history_rows(store))
    run(D2, det(amount="11.00", evidence='{"key": "a", "credit": "C9"}'))
    snapshots.append(history_rows(store))
    run(D3)
    snapshots.append(history_rows(store))
    after = datetime.now(UTC)
    for older, newer in pairwise(snapshots):
        assert newer[: len(older)] == older and len(newer) > len(older)

    created, acked, assigned, changed, closed = case(store, a)["history"]
    assert (acked["actor"], acked["action"], acked["old_status"], acked["new_status"]) == (
        "alice",
        "status_changed",
        "open",
        "acknowledged",
    )
    assert acked["note"] == "calling the customer" and acked["business_date"] is None
    assert before <= acked["at"] <= after and acked["at"].tzinfo is not None
    assert (assigned["action"], assigned["changes"]) == ("assigned", {"owner": [None, "bob"]})
    assert changed["action"] == "details_changed" and changed["actor"] == "recon"
    assert changed["changes"]["amount_at_risk"] == ["10.00", "11.00"]
    assert set(changed["changes"]) == {"amount_at_risk", "evidence"}
    assert closed["action"] == "closed" and closed["old_status"] == "acknowledged"
    assert [h["id"] for h in (created, acked, assigned, changed, closed)] == sorted(
        h["id"] for h in (created, acked, assigned, changed, closed)
    )

    count = len(history_rows(store))
    assert store.set_status(cid, "resolved", "alice", "credit confirmed")  # resolution changes
    assert case(store, a)["history"][-1]["changes"] == {
        "resolution": ["no_longer_detected", "manual"]
    }
    assert not store.set_status(cid, "resolved", "alice", "no change this time")
    assert not store.assign(cid, "bob", "alice")
    assert len(history_rows(store)) == count + 1
    with pytest.raises(ValueError, match="reserved"):
        store.set_status(cid, "open", "recon", "pretending to be the pipeline")
    with pytest.raises(ValueError, match="unknown status"):
        store.set_status(cid, "closed", "alice", "")
    with pytest.raises(CaseNotFound):
        store.assign("0000000000000000", "bob", "alice")


def test_details_refresh_only_from_the_latest_sighting(store: CaseStore, run: Runs) -> None:
    run(D1, det(amount="10.00"))
    run(D2, det(amount="12.50"))
    history = history_rows(store)
    published = run(D1, det(amount="10.00")).published  # older night: case keeps D2's details
    assert published["amount_at_risk"].to_list() == [Decimal("10.00")]
    assert case(store, det())["amount_at_risk"] == Decimal("12.50")
    assert history_rows(store) == history


def test_money_round_trips_exactly(store: CaseStore, run: Runs) -> None:
    amounts = ["0.10", "0.20", "-12.50", "9999999999999999.99", None]
    detections = [det(key=f"k{i}", amount=a) for i, a in enumerate(amounts)]
    published = run(D1, *detections).published
    assert published.schema["amount_at_risk"] == pl.Decimal(18, 2)
    by_id = {c["case_id"]: c["amount_at_risk"] for c in store.list_cases()}
    for d in detections:
        assert by_id[d["case_id"]] == d["amount_at_risk"]
        assert by_id[d["case_id"]] is None or type(by_id[d["case_id"]]) is Decimal
    assert by_id[detections[0]["case_id"]] + by_id[detections[1]["case_id"]] == Decimal("0.30")
    assert str(by_id[detections[3]["case_id"]]) == "9999999999999999.99"
    with store.engine.connect() as conn:
        sighted = conn.execute(select(case_sightings.c.amount_at_risk)).scalars().all()
    assert sorted(str(s) for s in sighted if s is not None) == sorted(
        a for a in amounts if a is not None
    )


def test_bad_detections_are_rejected(store: CaseStore) -> None:
    good = night(det())
    with pytest.raises(ValueError, match="lack columns: evidence"):
        store.record_night(D1, good.drop("evidence"), "r1")
    with pytest.raises(ValueError, match="duplicate"):
        store.record_night(D1, pl.concat([good, good]), "r1")
    with pytest.raises(ValueError, match="not Float64"):
        store.record_night(D1, good.with_columns(pl.col("amount_at_risk").cast(pl.Float64)), "r1")
    with pytest.raises(ValueError, match="unknown rules"):
        store.record_night(D1, good.with_columns(rule_id=pl.lit("NOPE")), "r1")
    store.record_night(D1, good, "r1")
    with pytest.raises(ValueError, match="already recorded"):
        store.record_night(D2, good, "r1")


def test_a_failed_night_leaves_no_trace(
    store: CaseStore, run: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(D1, det(key="a"))

    def boom(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(NightWriter, "counts", boom)  # after every write of the night
    with pytest.raises(RuntimeError):
        run(D2, det(key="b"))
    assert [c["case_id"] for c in store.list_cases()] == [det(key="a")["case_id"]]
    assert case(store, det(key="a"))["last_seen"] == D1
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(runs)) == 1


def test_list_filters(store: CaseStore, run: Runs) -> None:
    old = det(key="old", amount="5.00")
    big = det("DUPLICATE_RECURRING_CHARGE", key="big", amount="250.00", customer="C2")
    letter = det("WRONG_DISCONNECT_LETTER", key="L", amount=None, customer="C2", letter_id="L")
    tariff = det("TARIFF_MISMATCH", key="t", amount="-3.00", customer="C3")
    run(D1, old)
    run(D3, old, big, letter, tariff)
    store.set_status(str(tariff["case_id"]), "acknowledged", "alice", "checking")

    def ids(**filters: object) -> list[object]:
        return [c["case_id"] for c in store.list_cases(**filters)]

    assert ids() == [letter["case_id"], big["case_id"], old["case_id"], tariff["case_id"]]
    assert ids(rule="TARIFF_MISMATCH") == [tariff["case_id"]]
    assert ids(severity="high") == [big["case_id"], old["case_id"]]
    assert ids(status="acknowledged") == [tariff["case_id"]]
    assert ids(customer="C2") == [letter["case_id"], big["case_id"]]
    assert ids(min_amount=Decimal("5.00")) == [big["case_id"], old["case_id"]]
    assert ids(min_amount="5.01") == [big["case_id"]]
    assert ids(min_age_days=2) == [old["case_id"]]
    assert ids(min_age_days=3) == []
    assert ids(min_age_days=3, as_of=D4) == [old["case_id"]]
    assert ids(customer="C2", severity="critical") == [letter["case_id"]]
    assert store.list_cases(customer="C1")[0]["age_days"] == 2
    with pytest.raises(ValueError):
        store.list_cases(status="closed")


def test_get_case_lists_the_customers_other_cases(store: CaseStore, run: Runs) -> None:
    a, b, other = det(key="a"), det("TARIFF_MISMATCH", key="b"), det(key="x", customer="C9")
    run(D1, a, b, other)
    got = case(store, a)
    assert [c["case_id"] for c in got["other_cases"]] == [b["case_id"]]
    assert store.get_case("0000000000000000") is None


def test_ddl_file_matches_the_metadata() -> None:
    assert DDL_PATH.read_text(encoding="utf-8") == render_ddl(), (
        "sql/case_store.sql is stale: run `python -m pipelines.casestore.schema`"
    )


def _statements(sql: str) -> list[str]:
    """The statements of a SQL file without comments (none of ours has ';' in a string)."""
    body = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in body.split(";") if s.strip()]


@pytest.mark.postgres
def test_ddl_file_builds_a_working_store_on_postgres(pg_url: str) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        for statement in _statements(DDL_PATH.read_text(encoding="utf-8")):
            conn.exec_driver_sql(statement)
    columns = {t: [c["name"] for c in inspect(engine).get_columns(t)] for t in metadata.tables}
    engine.dispose()
    assert columns == {t.name: list(t.columns.keys()) for t in metadata.tables.values()}
    with CaseStore(pg_url) as s:
        s.record_night(D1, night(det()), "r1")
        assert s.list_cases()[0]["status"] == "open"


@pytest.mark.postgres
def test_sql_queries_run_on_postgres(pg_url: str) -> None:
    parts = re.split(r"^-- name: (\w+)$", QUERIES_PATH.read_text(encoding="utf-8"), flags=re.M)
    queries = {name: _statements(body) for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    assert all(len(q) == 1 for q in queries.values())
    with CaseStore(pg_url) as s:
        runs_ = Runs(s)
        runs_(D1, det(key="a"), det("WRONG_DISCONNECT_LETTER", key="L", letter_id="L"))
        runs_(D2, det(key="b"))
        s.set_status(str(det(key="b")["case_id"]), "acknowledged", "alice", "ok")
        with s.engine.connect() as conn:
            results = {name: conn.exec_driver_sql(q).all() for name, [q] in queries.items()}
    assert len(results) == 6
    assert sum(r.cases for r in results["open_exposure_by_rule"]) == 2
    assert [(r.business_date, r.created, r.closed) for r in results["nightly_flow"]] == [
        (D1, 2, 0),
        (D2, 1, 1),
    ]
    assert [(r.actor, r.action) for r in results["triage_activity"]] == [
        ("alice", "status_changed")
    ]


def test_timestamps_are_utc_aware(store: CaseStore, run: Runs) -> None:
    run(D1, det())
    got = case(store, det())
    assert got["updated_at"].utcoffset() == timedelta(0)
    assert all(h["at"].utcoffset() == timedelta(0) for h in got["history"])
