"""The desk in a real browser: Debian's Chromium driven by Playwright, against uvicorn.

Set RECON_SCREENSHOTS=docs/screenshots to refresh the README's screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from pipelines.web.app import create_app
from pipelines.web.config import DeskConfig
from tests.support.desk import (
    CHARGE,
    LETTER,
    PASSWORD,
    TARIFF,
    TODAY,
    build_store,
    build_warehouse,
)

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, object]:
    return {"executable_path": CHROMIUM, "args": FLAGS, "headless": True}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def desk_url(tmp_path: Path) -> Iterator[str]:
    """The desk on uvicorn in a thread, on 127.0.0.1 and a free port, over a demo-like store."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    build_store(url)
    build_warehouse(tmp_path / "warehouse")
    config = DeskConfig(
        db_url=url, warehouse=str(tmp_path / "warehouse"), secret_key="browser-test", today=TODAY
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def shot(page, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("RECON_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def log_in(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header .who")).to_contain_text(name)


def test_unauthenticated_is_redirected_then_login_and_logout(page, desk_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{desk_url}/cases/{CHARGE['case_id']}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("wrong password")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{desk_url}/cases/{CHARGE['case_id']}")  # back where they were
    page.click("text=Log out")
    expect(page).to_have_url(f"{desk_url}/login")
    page.goto(f"{desk_url}/")
    expect(page).to_have_url(f"{desk_url}/login")


def test_agent_works_a_case_end_to_end(page, desk_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log_in(page, desk_url, "alice")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(5)
    expect(page.locator(".counts")).to_contain_text("critical 1")  # counts loaded by htmx
    shot(page, "queue", tmp_path)
    page.select_option("select[name=severity]", "high")  # htmx swaps the results
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"severity=high"))
    page.fill("input[name=min_amount]", "1")
    page.press("input[name=min_amount]", "Enter")
    expect(rows).to_have_count(1)
    page.click("text=Reset")
    page.click(f"a[href='/cases/{LETTER['case_id']}']")
    expect(page.locator("h1")).to_contain_text("WRONG_DISCONNECT_LETTER")
    page.click("button:text-is('Take')")
    expect(page.locator(".flash")).to_contain_text("You took the case")
    page.click("button:text-is('Acknowledge')")
    expect(page.locator(".flash")).to_contain_text("acknowledged")
    page.click("button:text-is('Resolve')")
    expect(page.locator(".flash")).to_contain_text("a note is required")
    page.fill("textarea[name=note]", "Letter held with the mailing house; customer told")
    page.click("button:text-is('Resolve')")
    expect(page.locator(".flash")).to_contain_text("Status set to resolved")
    history = page.locator("section.history tbody")
    expect(history).to_contain_text("Letter held with the mailing house")
    expect(history.locator("td.actor").first).to_have_text("alice")
    page.click("summary:text('Raw JSON')")
    expect(page.locator("pre")).to_contain_text("scheduled_send_date")
    shot(page, "case", tmp_path)
    page.click("dd a[href='/customers/C1']")
    expect(page.locator("h1")).to_contain_text("Customer C1")
    expect(page.locator("table.timeline")).to_contain_text("store LDN01")
    expect(page.locator("table.timeline")).to_contain_text("AG7")
    shot(page, "customer", tmp_path)


def test_lead_assigns_and_auditor_is_refused(page, desk_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log_in(page, desk_url, "lena")
    page.goto(f"{desk_url}/cases/{TARIFF['case_id']}")
    page.select_option("select[name=owner]", "bob")
    page.click("button:text-is('Assign')")
    expect(page.locator(".flash")).to_contain_text("Assigned to bob")
    expect(page.locator("section.history tbody tr").first).to_contain_text("lena")
    page.click("text=Log out")
    log_in(page, desk_url, "audrey")
    page.goto(f"{desk_url}/cases/{TARIFF['case_id']}")
    expect(page.locator("section.actions")).to_have_count(0)
    status = page.evaluate(
        """async (id) => {
            const token = document.querySelector('meta[name=csrf-token]').content;
            const r = await fetch(`/cases/${id}/status`, {method: 'POST',
                headers: {'X-CSRF-Token': token,
                          'Content-Type': 'application/x-www-form-urlencoded'},
                body: 'status=resolved&note=x'});
            return r.status; }""",
        TARIFF["case_id"],
    )
    assert status == 403
    page.goto(f"{desk_url}/nights/2024-04-02")
    expect(page.locator("main")).to_contain_text("amount: not a decimal")
    page.goto(f"{desk_url}/nights")
    shot(page, "nights", tmp_path)


def test_a_post_without_the_csrf_token_is_refused(page, desk_url: str) -> None:  # type: ignore[no-untyped-def]
    log_in(page, desk_url, "alice")
    status = page.evaluate(
        """async (id) => (await fetch(`/cases/${id}/take`, {method: 'POST'})).status""",
        CHARGE["case_id"],
    )
    assert status == 403
    page.goto(f"{desk_url}/cases/{CHARGE['case_id']}")
    expect(page.locator("dl.facts")).to_contain_text("nobody")  # not taken


def test_the_dashboard_renders_its_charts(page, desk_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log_in(page, desk_url, "audrey")
    page.click("header nav a:text-is('Dashboard')")
    expect(page.locator("h1")).to_have_text("Dashboard")
    charts = page.locator("figure.chart img")
    expect(charts).to_have_count(5)
    for i in range(5):
        width = charts.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0")
        assert width > 300, f"chart {i} did not render"
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    assert charts.first.evaluate("img => img.getBoundingClientRect().width") > 300
