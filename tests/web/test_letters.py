"""The desk's letters-to-hold page and releasing a letter (contract section 3.1)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipelines.casestore.store import CaseStore
from tests.support.desk import (
    LETTER,
    NIGHT1,
    TARIFF,
    build_store,
    build_warehouse,
    login,
    make_client,
)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[TestClient, str]:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    build_store(url)
    build_warehouse(tmp_path / "warehouse")
    return make_client(url, tmp_path / "warehouse"), url


def test_the_page_lists_the_nights_letters_and_a_release_marks_false_positive(
    setup: tuple[TestClient, str],
) -> None:
    client, url = setup
    token = login(client, "alice")
    page = client.get("/letters")
    assert page.status_code == 200
    assert "<code>L1</code>" in page.text and "2024-04-04" in page.text
    assert "just renewed three lines" in page.text
    refused = client.post(f"/letters/{LETTER['case_id']}/release", data={"csrf_token": token})
    assert refused.status_code == 303  # a release needs a note: nothing changed
    with CaseStore(url) as store:
        assert store.get_case(str(LETTER["case_id"]))["status"] == "open"  # type: ignore[index]
    done = client.post(
        f"/letters/{LETTER['case_id']}/release",
        data={"csrf_token": token, "note": "asked for it by phone", "business_date": "2024-04-02"},
    )
    assert done.status_code == 303 and done.headers["location"].endswith("=2024-04-02")
    with CaseStore(url) as store:
        case = store.get_case(str(LETTER["case_id"]))
    assert case is not None and case["status"] == "false_positive"
    assert (case["history"][-1]["actor"], case["history"][-1]["note"]) == (
        "alice",
        "asked for it by phone",
    )
    page = client.get("/letters?business_date=2024-04-02")
    assert "No letter to hold" in page.text and "Released" in page.text
    assert (
        "<code>L1</code>"
        in client.get(f"/letters?business_date={NIGHT1}").text.split("Released")[1]
    )


def test_an_auditor_sees_the_list_but_cannot_release(setup: tuple[TestClient, str]) -> None:
    client, _ = setup
    token = login(client, "audrey")
    assert "Release</button>" not in client.get("/letters").text
    response = client.post(
        f"/letters/{LETTER['case_id']}/release", data={"csrf_token": token, "note": "no"}
    )
    assert response.status_code == 403


def test_resolving_on_the_case_page_records_what_was_recovered(
    setup: tuple[TestClient, str],
) -> None:
    client, url = setup
    token = login(client, "alice")
    cid = str(TARIFF["case_id"])
    form = client.get(f"/cases/{cid}").text
    assert 'name="recovered"' in form and '<option value="credit_note">' in form
    bad = client.post(
        f"/cases/{cid}/status",
        data={
            "csrf_token": token,
            "status": "acknowledged",
            "recovered": "1",
            "recovered_how": "re_bill",
        },
    )
    assert bad.status_code == 303
    done = client.post(
        f"/cases/{cid}/status",
        data={
            "csrf_token": token,
            "status": "resolved",
            "note": "re-billed on the next invoice",
            "recovered": "7.50",
            "recovered_how": "re_bill",
        },
    )
    assert done.status_code == 303
    with CaseStore(url) as store:
        (got,) = store.recoveries_of(cid)
        history = store.get_case(cid)["history"]  # type: ignore[index]
    assert (got["amount"], got["actor"], got["method"]) == (Decimal("7.50"), "alice", "re_bill")
    assert [h["new_status"] for h in history if h["actor"] == "alice"] == ["resolved"]
    page = client.get(f"/cases/{cid}").text
    assert "Recovered</h2>" in page and "7.50 GBP" in page
