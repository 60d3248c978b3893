"""The dashboard: login required, linked from the nav, charts as images (no script, no
CDN), for every role; an empty store says so."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from pipelines.casestore.accounts import Accounts
from pipelines.casestore.store import CaseStore
from tests.support.desk import fast_hashing, login, make_client

IMG = re.compile(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)">')


def test_login_is_required(db_url: str) -> None:
    response = make_client(db_url).get("/dashboard")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


@pytest.mark.parametrize("name", ["alice", "audrey"])
def test_the_dashboard_draws_the_trends(db_url: str, name: str) -> None:
    client = make_client(db_url)
    login(client, name)
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert '<a href="/dashboard">Dashboard</a>' in page.text
    images = IMG.findall(page.text)
    titles = [alt for _, alt in images]
    assert "Open cases by severity, night by night" in titles
    assert "Cases opened and closed each night" in titles
    assert "Open amounts (absolute) night by night" in titles
    for data, _ in images:
        svg = base64.b64decode(data).decode()
        assert svg.startswith("<svg") and "<script" not in svg
    assert "2 nights" in page.text
    # Nothing from another host: every address is the desk's own or a data: image.
    for address in re.findall(r'(?:src|href)="([^"]*)"', page.text):
        assert address.startswith(("/", "data:image/svg+xml;base64,")), address


def test_an_empty_store_says_there_is_nothing_yet(tmp_path: Path) -> None:
    fast_hashing()
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with CaseStore(url) as store:
        Accounts(store.engine).add("lena", "lead", "a long passphrase")
    client = make_client(url)
    login(client, "lena", "a long passphrase")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "No night has been recorded yet." in page.text
