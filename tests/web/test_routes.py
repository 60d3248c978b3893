"""The desk's routes for every role, on SQLite and PostgreSQL (starlette's TestClient)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipelines.casestore.accounts import Accounts
from pipelines.casestore.store import CaseStore
from tests.support.desk import (
    CASES,
    CHARGE,
    CSRF_META,
    HOSTILE,
    HOSTILE_CASE,
    LETTER,
    PASSWORD,
    SMALL,
    TARIFF,
    build_warehouse,
    csrf_of,
    login,
    make_client,
)

ALL = "owner=anyone&status=any"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    build_warehouse(tmp_path / "warehouse")
    return tmp_path / "warehouse"


@pytest.fixture
def client(db_url: str, warehouse: Path) -> TestClient:
    return make_client(db_url, warehouse)


def as_user(client: TestClient, name: str) -> tuple[TestClient, str]:
    return client, login(client, name)


def post(client: TestClient, token: str, path: str, **data: object):
    return client.post(path, data={"csrf_token": token, **data})


def history_actors(db_url: str, case_id: str) -> list[tuple[str, str]]:
    with CaseStore(db_url) as store:
        case = store.get_case(case_id)
    assert case is not None
    return [(h["actor"], h["action"]) for h in case["history"]]


# -- access -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/cases/x", "/customers/C1", "/nights", "/audit", "/cases.csv", "/users"]
)
def test_browser_without_session_goes_to_login(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


@pytest.mark.parametrize("path", ["/api/cases", "/api/cases/x", "/api/customers/C1"])
def test_api_without_credentials_is_401_json(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {"error": "authentication required: a session or a bearer token"}
    bad = client.get(path, headers={"Authorization": "Bearer recon_not-a-token"})
    assert bad.status_code == 401


def test_login_page_and_static_are_open(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert client.get("/static/vendor/htmx.min.js").status_code == 200
    assert client.get("/static/desk.css").status_code == 200


def test_session_cookie_is_signed_httponly_lax(client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token}
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert response.headers["location"] == "/"


def test_wrong_password_unknown_user_and_throttle(client: TestClient) -> None:
    token = csrf_of(client)
    for name in ("alice", "nobody"):
        response = client.post(
            "/login", data={"username": name, "password": "wrong password!", "csrf_token": token}
        )
        assert response.status_code == 401
        assert "Unknown user name or wrong password" in response.text
    for _ in range(4):
        client.post("/login", data={"username": "alice", "password": "x", "csrf_token": token})
    throttled = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token}
    )
    assert throttled.status_code == 429  # even the right password, until the window passes


def test_login_redirects_only_to_local_paths(client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post(
        "/login",
        data={
            "username": "bob",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/x",
        },
    )
    assert response.headers["location"] == "/"


def test_logout_ends_the_session(client: TestClient) -> None:
    token = login(client, "alice")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/").status_code == 303


def test_login_without_csrf_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


def test_every_state_changing_route_needs_the_csrf_token(client: TestClient) -> None:
    login(client, "lena")
    cid = CHARGE["case_id"]
    for path in (
        f"/cases/{cid}/take",
        f"/cases/{cid}/assign",
        f"/cases/{cid}/status",
        f"/cases/{cid}/contact",
        "/bulk",
        "/users",
        "/users/bob/disable",
        "/logout",
    ):
        response = client.post(path, data={"status": "acknowledged", "note": "x"})
        assert response.status_code == 403, path
        assert "CSRF" in response.text
    api = client.post(f"/api/cases/{cid}/status", json={"status": "acknowledged"})
    assert api.status_code == 403 and "CSRF" in api.json()["error"]
    forged = client.post(
        f"/api/cases/{cid}/status",
        json={"status": "acknowledged"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert forged.status_code == 403
    assert history_actors(client.app.state.desk.config.db_url, cid)[-1][0] == "recon"


def test_csrf_header_or_form_field_is_accepted(client: TestClient, db_url: str) -> None:
    token = login(client, "lena")
    cid = CHARGE["case_id"]
    by_header = client.post(
        f"/api/cases/{cid}/status",
        json={"status": "acknowledged"},
        headers={"X-CSRF-Token": token},
    )
    assert by_header.status_code == 200 and by_header.json()["changed"] is True
    by_form = post(client, token, f"/cases/{cid}/assign", owner="bob")
    assert by_form.status_code == 303
    assert history_actors(db_url, cid)[-2:] == [("lena", "status_changed"), ("lena", "assigned")]


def test_a_disabled_account_or_new_password_ends_sessions(client: TestClient, db_url: str) -> None:
    login(client, "alice")
    with CaseStore(db_url) as store:
        Accounts(store.engine).set_password("alice", "another long password")
    assert client.get("/").status_code == 303
    login(client, "bob")
    with CaseStore(db_url) as store:
        Accounts(store.engine).disable("bob")
    assert client.get("/").status_code == 303


# -- roles ------------------------------------------------------------------------------


def test_auditor_reads_everything_and_changes_nothing(client: TestClient, db_url: str) -> None:
    token = login(client, "audrey")
    cid = CHARGE["case_id"]
    for path in (
        "/",
        f"/cases/{cid}",
        "/customers/C1",
        "/nights",
        "/nights/2024-04-02",
        "/audit",
        "/audit.csv",
        f"/cases.csv?{ALL}",
        "/api/cases",
    ):
        assert client.get(path).status_code == 200, path
    page = client.get(f"/cases/{cid}").text
    assert "Take</button>" not in page and "Acknowledge" not in page
    for path, data in (
        (f"/cases/{cid}/take", {}),
        (f"/cases/{cid}/assign", {"owner": "audrey"}),
        (f"/cases/{cid}/status", {"status": "acknowledged", "note": "x"}),
        (f"/cases/{cid}/contact", {"channel": "phone"}),
        ("/bulk", {"case_id": cid, "action": "status", "status": "resolved", "note": "x"}),
        ("/users", {"name": "eve", "role": "admin", "password": PASSWORD}),
    ):
        response = post(client, token, path, **data)
        assert response.status_code == 403, path
    api = client.post(
        f"/api/cases/{cid}/status",
        json={"status": "resolved", "note": "x"},
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 403 and "auditor" in api.json()["error"]
    assert [a for a, _ in history_actors(db_url, cid)] == ["recon"]


def test_agent_works_unassigned_and_own_cases_only(client: TestClient, db_url: str) -> None:
    client, token = as_user(client, "alice")
    cid, other = CHARGE["case_id"], TARIFF["case_id"]
    assert post(client, token, f"/cases/{cid}/take").status_code == 303
    assert post(client, token, f"/cases/{cid}/status", status="acknowledged").status_code == 303
    # another agent's case: refused
    bob = make_client(db_url, None)
    bob_token = login(bob, "bob")
    assert (
        post(bob, bob_token, f"/cases/{cid}/status", status="resolved", note="x").status_code == 403
    )
    assert post(bob, bob_token, f"/cases/{cid}/take").status_code == 403
    # an agent does not assign to others, nor act in bulk
    assert post(client, token, f"/cases/{other}/assign", owner="bob").status_code == 403
    bulk = post(client, token, "/bulk", case_id=other, action="assign", owner="alice", note="x")
    assert bulk.status_code == 403
    assert client.get("/users").status_code == 403
    assert history_actors(db_url, cid)[-2:] == [("alice", "assigned"), ("alice", "status_changed")]


def test_lead_assigns_anyone_and_acts_in_bulk(client: TestClient, db_url: str) -> None:
    token = login(client, "lena")
    ids = [CHARGE["case_id"], TARIFF["case_id"]]
    no_note = client.post(
        "/bulk", data={"csrf_token": token, "case_id": ids, "action": "assign", "owner": "bob"}
    )
    assert no_note.status_code == 400 and "note is required" in no_note.text
    done = client.post(
        "/bulk",
        data={
            "csrf_token": token,
            "case_id": ids,
            "action": "assign",
            "owner": "bob",
            "note": "Bob has the billing queue this week",
        },
    )
    assert done.status_code == 303
    rows = client.get("/api/cases?owner=bob").json()["cases"]
    assert sorted(r["case_id"] for r in rows) == sorted(ids)
    status = client.post(
        "/bulk",
        data={
            "csrf_token": token,
            "case_id": ids,
            "action": "status",
            "status": "acknowledged",
            "note": "seen",
        },
    )
    assert status.status_code == 303
    assert history_actors(db_url, ids[1])[-2:] == [("lena", "assigned"), ("lena", "status_changed")]
    unknown = post(client, token, f"/cases/{ids[0]}/assign", owner="mallory")
    assert unknown.status_code == 303  # back to the case page with the reason
    assert "no enabled account" in client.get(f"/cases/{ids[0]}").text


def test_admin_manages_accounts(client: TestClient) -> None:
    token = login(client, "ada")
    page = client.get("/users")
    assert page.status_code == 200 and "audrey" in page.text
    assert (
        post(client, token, "/users", name="carol", role="agent", password=PASSWORD).status_code
        == 303
    )
    assert (
        post(client, token, "/users", name="dave", role="agent", password="short").status_code
        == 400
    )
    assert post(client, token, "/users/carol/disable").status_code == 303
    carol = make_client(client.app.state.desk.config.db_url)
    csrf = csrf_of(carol)
    refused = carol.post(
        "/login", data={"username": "carol", "password": PASSWORD, "csrf_token": csrf}
    )
    assert refused.status_code == 401


# -- case work --------------------------------------------------------------------------


def test_resolve_and_false_positive_need_a_note(client: TestClient, db_url: str) -> None:
    token = login(client, "alice")
    cid = CHARGE["case_id"]
    for status in ("resolved", "false_positive"):
        post(client, token, f"/cases/{cid}/status", status=status, note="  ")
        assert "Not changed: a note is required" in client.get(f"/cases/{cid}").text
    post(client, token, f"/cases/{cid}/status", status="resolved", note="credit note CN-1 raised")
    page = client.get(f"/cases/{cid}").text
    assert "credit note CN-1 raised" in page and 'class="actor">alice<' in page
    assert history_actors(db_url, cid)[-1] == ("alice", "status_changed")
    withdrawn = post(client, token, f"/cases/{cid}/status", status="withdrawn", note="x")
    assert withdrawn.status_code == 303
    assert "a person sets one of" in client.get(f"/cases/{cid}").text


def test_customer_contacted_promise_shows_when_overdue(client: TestClient, db_url: str) -> None:
    token = login(client, "alice")
    cid = LETTER["case_id"]
    post(
        client,
        token,
        f"/cases/{cid}/contact",
        channel="phone",
        promise="We will hold the letter and call back",
        next_update_by="2024-04-08",
    )
    page = client.get(f"/cases/{cid}").text
    assert "We will hold the letter and call back" in page and "Update promised by" in page
    overdue = client.get("/api/cases?promise_overdue=1").json()["cases"]
    assert [c["case_id"] for c in overdue] == [cid]
    assert history_actors(db_url, cid)[-1] == ("alice", "contacted")
    post(
        client,
        token,
        f"/cases/{cid}/contact",
        channel="email",
        promise="update sent",
        next_update_by="2024-04-20",
    )
    assert client.get("/api/cases?promise_overdue=1").json()["cases"] == []
    bad = post(client, token, f"/cases/{cid}/contact", channel="pigeon")
    assert bad.status_code == 303 and "channel is one of" in client.get(f"/cases/{cid}").text


def test_case_page_shows_evidence_tables_raw_json_and_history(client: TestClient) -> None:
    login(client, "alice")
    page = client.get(f"/cases/{LETTER['case_id']}").text
    assert "<th>scheduled_send_date</th>" in page and "<td>2024-04-04</td>" in page
    assert "Raw JSON" in page and "124.50 GBP" in page
    assert "2024-04-02" in page and "overdue" in page  # due: the day before the send date... or SLA
    assert 'href="/customers/C1"' in page
    assert client.get("/cases/0000000000000000").status_code == 404


# -- the queue --------------------------------------------------------------------------


def ids(client: TestClient, query: str = "") -> list[str]:
    response = client.get(f"/api/cases?{query}")
    assert response.status_code == 200, response.text
    return [c["case_id"] for c in response.json()["cases"]]


def test_queue_opens_on_mine_or_unassigned_open_work(client: TestClient) -> None:
    token = login(client, "lena")
    post(client, token, f"/cases/{TARIFF['case_id']}/assign", owner="bob")
    post(client, token, f"/cases/{SMALL['case_id']}/status", status="resolved", note="done")
    alice = make_client(client.app.state.desk.config.db_url)
    login(alice, "alice")
    assert ids(alice) == [LETTER["case_id"], CHARGE["case_id"], HOSTILE_CASE["case_id"]]
    page = alice.get("/").text
    assert page.count('href="/cases/') == 3


def test_queue_filters(client: TestClient) -> None:
    login(client, "alice")
    assert ids(client, "rule=TARIFF_MISMATCH") == [TARIFF["case_id"]]
    assert ids(client, "severity=critical") == [LETTER["case_id"]]
    assert set(ids(client, "min_amount=5")) == {
        LETTER["case_id"],
        TARIFF["case_id"],
        SMALL["case_id"],
    }
    assert ids(client, "min_amount=7.50&max_amount=7.50") == [TARIFF["case_id"]]  # |-7.50|
    assert ids(client, "max_amount=0.20") == [CHARGE["case_id"]]
    assert ids(client, "q=447700900002") == [TARIFF["case_id"]]
    assert ids(client, "q=C1") == [LETTER["case_id"], CHARGE["case_id"]]
    assert ids(client, "first_seen_from=2024-04-02") == [HOSTILE_CASE["case_id"], TARIFF["case_id"]]
    assert len(ids(client, "min_age=9")) == 3 and len(ids(client, "max_age=8")) == 2
    assert len(ids(client, "due=overdue")) == 5 and ids(client, "due=today") == []
    assert ids(client, "status=resolved") == []
    assert ids(client, "owner=mine") == []
    bad = client.get("/api/cases?min_amount=lots")
    assert bad.status_code == 400 and "not an amount" in bad.json()["error"]
    assert client.get("/api/cases?status=closed").status_code == 400


def test_queue_order_pages_and_counts(client: TestClient) -> None:
    login(client, "alice")
    everything = ids(client, ALL)
    assert everything == [
        LETTER["case_id"],
        CHARGE["case_id"],
        HOSTILE_CASE["case_id"],
        SMALL["case_id"],
        TARIFF["case_id"],
    ]  # severity, due, |amount|
    assert ids(client, f"{ALL}&per_page=2&page=2") == everything[2:4]
    body = client.get(f"/api/cases?{ALL}&severity=high").json()
    assert body["total"] == 2 and body["pages"] == 1
    assert body["counts"]["severity"] == {"critical": 1, "high": 2, "medium": 2}
    assert body["counts"]["rule_id"]["CHARGE_AFTER_DEACTIVATION"] == 1
    assert body["counts"]["flags"] == {"overdue": 2, "promise_overdue": 0}
    assert ids(client, f"{ALL}&order=amount")[0] == LETTER["case_id"]
    page = client.get("/?owner=anyone", headers={"HX-Request": "true"}).text
    assert "<html" not in page and "cases" in page  # htmx gets the results only


def test_resolved_cases_stop_ageing(client: TestClient) -> None:
    token = login(client, "alice")
    cid = CHARGE["case_id"]
    post(client, token, f"/cases/{cid}/status", status="resolved", note="credited")
    case = client.get(f"/api/cases/{cid}").json()
    # decided today in real time; the desk's clock is 2024-04-10 -> age ends at the decision
    assert case["status"] == "resolved" and case["decided_on"] is not None
    assert case["overdue"] is False


def test_csv_export_is_the_current_filter_neutralised(client: TestClient) -> None:
    login(client, "alice")
    response = client.get(f"/cases.csv?{ALL}&rule=UNKNOWN_SIM_CHARGED")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["case_id"] for r in rows] == [SMALL["case_id"]]
    assert rows[0]["customer_id"] == "'=1+1" and rows[0]["amount_at_risk"] == "5.00"
    tariff = list(
        csv.DictReader(io.StringIO(client.get(f"/cases.csv?{ALL}&rule=TARIFF_MISMATCH").text))
    )
    assert tariff[0]["amount_at_risk"] == "-7.50"  # a number, written as it is
    everything = list(csv.DictReader(io.StringIO(client.get(f"/cases.csv?{ALL}").text)))
    assert len(everything) == len(CASES)


def test_hostile_values_are_escaped(client: TestClient) -> None:
    login(client, "alice")
    for path in (
        "/?owner=anyone",
        f"/cases/{HOSTILE_CASE['case_id']}",
        "/nights/2024-04-02",
        "/customers/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ):
        page = client.get(path).text
        assert HOSTILE not in page, path
        assert "&lt;script&gt;" in page, path
    assert "Content-Security-Policy" in client.get("/").headers


# -- customer, nights, audit ------------------------------------------------------------


def test_customer_page_tells_the_whole_story(client: TestClient) -> None:
    login(client, "alice")
    page = client.get("/customers/C1").text
    for text in (
        "store LDN01",
        "AG7",
        "renewal",
        "new line",
        "cancel line",
        "telesales",
        "TS3",
        "89440000000000000037",
        "deactivated",
        "INV1",
        "Unlimited plan",
        "L1",
        "disconnect save",
        "2024-04-04",
        LETTER["case_id"],
        CHARGE["case_id"],
    ):
        assert text in page, text
    api = client.get("/api/customers/C1").json()
    assert {s["status"] for s in api["sims"]} == {"active", "deactivated"}
    assert len(api["transactions"]) == 5 and api["invoices"][0]["invoice_id"] == "INV1"
    assert len(api["cases"]) == 2


def test_nights_page_for_auditors(client: TestClient) -> None:
    login(client, "audrey")
    nights = client.get("/nights").text
    assert "2024-04-02" in nights and "2024-04-01" in nights
    night = client.get("/nights/2024-04-02").text
    assert "ab" * 32 in night and "amount: not a decimal" in night and "report.html" in night
    report = client.get("/nights/2024-04-02/files/report.html")
    assert report.status_code == 200 and "sandbox" in report.headers["content-security-policy"]
    assert client.get("/nights/2024-04-02/files/cases.csv").headers["content-disposition"]
    for bad in (
        "/nights/2024-04-02/files/..%2Fsummary.json",
        "/nights/2024-04-02/files/nope.csv",
        "/nights/2024-13-01",
        "/nights/2024-04-05",
    ):
        assert client.get(bad).status_code == 404, bad


def test_audit_log_filters_and_exports(client: TestClient) -> None:
    token = login(client, "lena")
    post(client, token, f"/cases/{CHARGE['case_id']}/assign", owner="alice", note="=HYPERLINK(1)")
    post(client, token, f"/cases/{TARIFF['case_id']}/status", status="acknowledged")
    page = client.get("/audit?actor=lena").text
    assert page.count('class="actor">lena<') == 2 and 'class="actor">recon<' not in page
    one = client.get(f"/audit?case_id={TARIFF['case_id']}").text
    assert one.count('class="actor">lena<') == 1
    assert "No entries" in client.get("/audit?from=2000-01-01&to=2000-01-02").text
    rows = list(csv.DictReader(io.StringIO(client.get("/audit.csv?actor=lena").text)))
    assert [r["action"] for r in rows] == ["status_changed", "assigned"]
    assert rows[1]["note"] == "'=HYPERLINK(1)"
    with_pipeline = list(csv.DictReader(io.StringIO(client.get("/audit.csv?pipeline=1").text)))
    assert len(with_pipeline) > 2


# -- API --------------------------------------------------------------------------------


def test_api_with_a_bearer_token(client: TestClient, db_url: str) -> None:
    with CaseStore(db_url) as store:
        token = Accounts(store.engine).issue_token("lena", "ticketing")
    auth = {"Authorization": f"Bearer {token}"}
    cid = TARIFF["case_id"]
    case = client.get(f"/api/cases/{cid}", headers=auth).json()
    assert case["amount_at_risk"] == "-7.50" and case["history"][0]["action"] == "created"
    done = client.post(f"/api/cases/{cid}/assign", json={"owner": "alice"}, headers=auth)
    assert done.status_code == 200 and done.json()["case"]["owner"] == "alice"
    no_note = client.post(f"/api/cases/{cid}/status", json={"status": "resolved"}, headers=auth)
    assert no_note.status_code == 400 and no_note.json() == {
        "error": "a note is required to set resolved"
    }
    ok = client.post(
        f"/api/cases/{cid}/status", json={"status": "resolved", "note": "re-billed"}, headers=auth
    )
    assert ok.json()["case"]["status"] == "resolved"
    assert history_actors(db_url, cid)[-2:] == [("lena", "assigned"), ("lena", "status_changed")]
    missing = client.get("/api/cases/0000000000000000", headers=auth)
    assert missing.status_code == 404 and missing.json() == {"error": "no case 0000000000000000"}
    garbage = client.post(
        f"/api/cases/{cid}/status",
        content=b"{",
        headers={**auth, "content-type": "application/json"},
    )
    assert garbage.status_code == 422 and "invalid request" in garbage.json()["error"]
    with CaseStore(db_url) as store:
        Accounts(store.engine).revoke_tokens("lena")
    assert client.get("/api/cases", headers=auth).status_code == 401


def test_trusted_proxy_header_only_from_trusted_addresses(db_url: str) -> None:
    from pipelines.settings import parse_networks

    header = {"X-Remote-User": "lena"}
    assert make_client(db_url).get("/", headers=header).status_code == 303  # off by default
    app = make_client(
        db_url, trusted_user_header="X-Remote-User", trusted_proxies=parse_networks("10.0.0.0/8")
    ).app
    via_proxy = TestClient(
        app, base_url="http://127.0.0.1", client=("10.0.0.5", 4000), follow_redirects=False
    )
    assert via_proxy.get("/", headers=header).status_code == 200
    assert via_proxy.get("/", headers={"X-Remote-User": "mallory"}).status_code == 303
    token = CSRF_META.search(via_proxy.get("/", headers=header).text).group(1)  # type: ignore[union-attr]
    cid = CHARGE["case_id"]
    assert via_proxy.post(f"/cases/{cid}/take", headers=header).status_code == 403  # CSRF
    taken = via_proxy.post(f"/cases/{cid}/take", headers=header, data={"csrf_token": token})
    assert taken.status_code == 303
    assert history_actors(db_url, cid)[-1] == ("lena", "assigned")
    direct = TestClient(
        app, base_url="http://127.0.0.1", client=("192.168.1.9", 4000), follow_redirects=False
    )
    assert direct.get("/", headers=header).status_code == 303  # not from a trusted proxy


def test_counts_per_filter_load_beside_the_queue(client: TestClient) -> None:
    token = login(client, "lena")
    post(client, token, f"/cases/{TARIFF['case_id']}/assign", owner="bob")
    page = client.get("/?severity=medium").text
    assert 'hx-get="/queue/counts?severity=medium"' in page
    counts = client.get("/queue/counts?severity=medium").text
    assert "medium <b>1</b>" in counts  # TARIFF is bob's: not "mine or unassigned"
    assert "critical <b>1</b>" in counts and "high <b>2</b>" in counts  # other severities
    assert "unassigned <b>1</b>" in counts and "anyone <b>2</b>" in counts
    assert "2 overdue" not in counts and "1 overdue" in counts
    bob = client.get("/api/cases?owner=bob&status=any").json()["counts"]
    assert bob["owner"] == {"mine": 0, "unassigned": 4, "anyone": 5}
    assert bob["severity"] == {"medium": 1} and bob["rule_id"] == {"TARIFF_MISMATCH": 1}
