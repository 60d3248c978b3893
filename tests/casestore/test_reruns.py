"""Reruns of the latest night replace its earlier runs: the store ends as one run on the
corrected inputs would leave it, plus history (contract section 3)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from pipelines.casestore import CaseStore
from pipelines.casestore.schema import case_sightings, cases
from tests.support.cases import D1, D2, D3, Runs, case, det

PHANTOM = dict(rule="UNBILLED_ACTIVE_LINE", key="phantom")  # a rule never auto-closed


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def stores(url: str, tmp_path: Path):
    """(store under test, a clean store that only ever sees the corrected nights)."""
    with CaseStore(url) as s, CaseStore(f"sqlite:///{tmp_path / 'clean.db'}") as clean:
        yield s, clean


def state(store: CaseStore) -> tuple[dict, set]:
    """Every case that is not withdrawn (updated_at aside) and every sighting (run aside)."""
    with store.engine.connect() as conn:
        rows = {
            r["case_id"]: {k: v for k, v in r.items() if k != "updated_at"}
            for r in conn.execute(select(cases).where(cases.c.status != "withdrawn")).mappings()
        }
        sightings = {
            tuple(v for k, v in r.items() if k != "run_id")
            for r in conn.execute(select(case_sightings)).mappings()
        }
    return rows, sightings


def actions(store: CaseStore, detection: dict) -> list[tuple[str, str | None]]:
    return [(h["action"], h["run_id"]) for h in case(store, detection)["history"]]


def test_a_phantom_the_rerun_does_not_find_is_withdrawn(stores) -> None:
    store, clean = stores
    a, phantom = det(key="a"), det(**PHANTOM)
    run, clean_run = Runs(store), Runs(clean)
    run(D1, a)
    run(D2, a, phantom)  # run-2: one recurring line missing from the extract
    outcome = run(D2, a)  # run-3: the true extract
    clean_run(D1, a)
    clean_run(D2, a)
    assert state(store) == state(clean)
    got = case(store, phantom)
    assert (got["status"], got["resolution"]) == ("withdrawn", "not_found_by_rerun")
    assert actions(store, phantom) == [("created", "run-2"), ("withdrawn", "run-3")]
    assert outcome.published["case_id"].to_list() == [a["case_id"]]
    assert outcome.counts["UNBILLED_ACTIVE_LINE"]["withdrawn"] == 1
    run(D3, a)  # withdrawn: neither closed nor published later
    assert case(store, phantom)["status"] == "withdrawn"


def test_a_case_the_rerun_does_not_find_gets_back_its_details_and_closes(stores) -> None:
    store, clean = stores
    run, clean_run = Runs(store), Runs(clean)
    run(D1, det(amount="10.00"))
    run(D2, det(amount="12.00"))  # a spurious change of amount
    run(D2)  # the rerun finds nothing: the credit was in the true extract
    clean_run(D1, det(amount="10.00"))
    clean_run(D2)
    assert state(store) == state(clean)
    got = case(store, det())
    assert (got["amount_at_risk"], got["last_seen"], got["times_seen"]) == (
        det()["amount_at_risk"],
        D1,
        1,
    )
    assert (got["resolution"], got["closed_on"]) == ("no_longer_detected", D2)
    assert [a for a, _ in actions(store, det())] == [
        "created",
        "details_changed",
        "details_changed",
        "closed",
    ]


def test_a_case_the_earlier_run_closed_and_the_rerun_finds_is_reopened_as_it_was(stores) -> None:
    store, clean = stores
    a = det()
    run, clean_run = Runs(store), Runs(clean)
    run(D1, a)
    clean_run(D1, a)
    for s in (store, clean):
        s.set_status(str(a["case_id"]), "acknowledged", by="alice")
    run(D2)  # a's line was missing: closed as no longer detected
    run(D2, a)
    clean_run(D2, a)
    assert state(store) == state(clean)
    assert case(store, a)["status"] == "acknowledged"
    assert [x for x, _ in actions(store, a)][-2:] == ["closed", "reopened"]


def test_a_reopen_the_rerun_does_not_confirm_is_undone(stores) -> None:
    store, clean = stores
    a = det()
    run, clean_run = Runs(store), Runs(clean)
    for r in (run, clean_run):
        r(D1, a)
        r(D2)  # closed on D2
    run(D3, a)  # reopened by a spurious line
    run(D3)
    clean_run(D3)
    assert state(store) == state(clean)
    assert case(store, a)["closed_on"] == D2


def test_a_persons_triage_of_a_case_the_earlier_run_raised_stands(stores) -> None:
    store, _ = stores
    a = det(key="new")
    run = Runs(store)
    run(D1)
    run(D2, a)
    store.set_status(str(a["case_id"]), "acknowledged", by="alice")
    store.assign(str(a["case_id"]), "bob", by="alice")
    run(D2, det(key="new", amount="11.00"))
    got = case(store, a)
    assert (got["status"], got["owner"], got["amount_at_risk"]) == (
        "acknowledged",
        "bob",
        det(amount="11.00")["amount_at_risk"],
    )


def test_a_withdrawn_case_found_on_a_later_night_starts_afresh(stores) -> None:
    store, clean = stores
    p = det(key="p")  # a rule that re-judges history
    run, clean_run = Runs(store), Runs(clean)
    run(D1, p)
    run(D1)
    assert case(store, p)["status"] == "withdrawn"
    run(D2)  # not auto-closed
    assert case(store, p)["status"] == "withdrawn"
    outcome = run(D3, p)
    for day in (D1, D2):
        clean_run(day)
    clean_run(D3, p)
    assert state(store) == state(clean)
    assert outcome.published["status"].to_list() == ["open"]
    assert [x for x, _ in actions(store, p)] == ["created", "withdrawn", "reopened"]


def test_people_cannot_withdraw_or_triage_a_withdrawn_case(stores) -> None:
    store, _ = stores
    p = det(key="p")
    run = Runs(store)
    run(D1, det(key="q"))
    with pytest.raises(ValueError, match="unknown status"):
        store.set_status(str(det(key="q")["case_id"]), "withdrawn", by="alice")
    run(D2, p)
    run(D2)
    with pytest.raises(ValueError, match="withdrawn by a rerun"):
        store.set_status(str(p["case_id"]), "open", by="alice")


def test_a_rerun_of_an_older_night_withdraws_nothing(stores) -> None:
    store, _ = stores
    run = Runs(store)
    run(D1, det(key="a"), det(key="b"))
    run(date(2024, 4, 2), det(key="a"), det(key="b"))
    run(D1, det(key="a"))  # not the latest night: its cases stay as they are
    assert case(store, det(key="b"))["status"] == "open"
