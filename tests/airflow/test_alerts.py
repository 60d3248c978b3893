"""The DAG's alerts: the record, its key, one notification per night and cause, the
notifiers (HTTP and Slack webhooks on 127.0.0.1, SMTP to a local server), no raising."""

from __future__ import annotations

import email
import json
import socketserver
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from pipelines.airflow.alerts import (
    alert_key,
    alert_record,
    cause,
    deadline_record,
    on_deadline_missed,
    on_task_failure,
    raise_alert,
)
from pipelines.airflow.notifiers import send
from pipelines.settings import AlertSettings, ConfigError, alert_settings
from pipelines.storage import LocalStorage

RUN_ID = "scheduled__2024-03-14T02:00:00+00:00"


def context(task_id="ingest_billing_lines", error=None, **extra):
    ti = SimpleNamespace(
        dag_id="recon_nightly",
        run_id=RUN_ID,
        task_id=task_id,
        try_number=1,
        log_url="http://airflow/dags/recon_nightly/runs/x",
    )
    return {
        "ti": ti,
        "exception": error or RuntimeError("billing_lines: sha256 mismatch"),
        "params": {"business_date": None},
        "data_interval_start": datetime(2024, 3, 14, 2, tzinfo=UTC),
        **extra,
    }


class Recorder:
    """A `send` that keeps what it was given."""

    def __init__(self):
        self.sent = []

    def __call__(self, record, targets, ctx):
        self.sent.append(record)


def test_record_says_what_failed_when_and_where_the_log_is():
    now = datetime(2024, 3, 15, 2, 30, tzinfo=UTC)
    record = alert_record(context(), date(2024, 3, 14), now)
    assert record == {
        "text": f"recon: task ingest_billing_lines failed for business date 2024-03-14 "
        f"(run {RUN_ID}): billing_lines: sha256 mismatch",
        "dag_id": "recon_nightly",
        "dag_run_id": RUN_ID,
        "task_id": "ingest_billing_lines",
        "try_number": 1,
        "business_date": "2024-03-14",
        "failed_at": "2024-03-15T02:30:00+00:00",
        "cause": "ingest-RuntimeError",
        "error_type": "RuntimeError",
        "error": "billing_lines: sha256 mismatch",
        "log_url": "http://airflow/dags/recon_nightly/runs/x",
    }
    assert alert_key(record) == (
        f"alerts/business_date=2024-03-14/{RUN_ID}-ingest_billing_lines.json"
    )


def test_the_cause_is_the_step_and_the_error_not_the_source():
    late = {
        cause(f"wait_for_{s}", "AirflowSensorTimeout") for s in ("sim_inventory", "billing_lines")
    }
    assert late == {"wait_for-AirflowSensorTimeout"}
    assert cause("wait_for_previous_night", "AirflowSensorTimeout") != late.pop()
    assert cause("ingest_sim_inventory", "AirflowFailException") == "ingest-AirflowFailException"
    assert cause("ingest_sim_inventory", "OSError") != cause(
        "ingest_sim_inventory", "AirflowFailException"
    )
    assert cause("commit", None) == "commit-unknown"


def test_key_of_an_unknown_date_and_an_odd_run_id():
    record = alert_record(context(), None)
    record["dag_run_id"] = "manual/run 1"
    assert alert_key(record) == (
        "alerts/business_date=unknown/manual_run_1-ingest_billing_lines.json"
    )


def test_four_late_sources_make_one_notification_and_four_records(tmp_path):
    warehouse = LocalStorage(tmp_path)
    sent = Recorder()
    late = TimeoutError("source is late")
    sources = ("store_transactions", "sim_inventory", "billing_lines", "retention_campaigns")
    threads = [
        threading.Thread(
            target=on_task_failure,
            args=(context(f"wait_for_{s}", late), lambda: warehouse, {}, sent),
        )
        for s in sources
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # a different cause in the same night is sent; the same cause in another run too
    on_task_failure(context("commit"), lambda: warehouse, {}, sent)
    rerun = context("wait_for_billing_lines", late)
    rerun["ti"].run_id = "manual__2024-03-15T09:00:00+00:00"
    on_task_failure(rerun, lambda: warehouse, {}, sent)
    folder = tmp_path / "alerts" / "business_date=2024-03-14"
    records = {p.name for p in folder.glob("*.json")}
    assert records == {f"{RUN_ID}-wait_for_{s}.json" for s in sources} | {
        f"{RUN_ID}-commit.json",
        "manual__2024-03-15T09:00:00+00:00-wait_for_billing_lines.json",
    }
    assert sorted(r["cause"] for r in sent.sent) == [
        "commit-RuntimeError",
        "wait_for-TimeoutError",
        "wait_for-TimeoutError",
    ]
    assert {r["dag_run_id"] for r in sent.sent if r["cause"].startswith("wait_for")} == {
        RUN_ID,
        "manual__2024-03-15T09:00:00+00:00",
    }
    claims = {p.name for p in (folder / "_notified").glob("*.json")}
    assert claims == {
        f"{RUN_ID}-wait_for-TimeoutError.json",
        f"{RUN_ID}-commit-RuntimeError.json",
        "manual__2024-03-15T09:00:00+00:00-wait_for-TimeoutError.json",
    }


def test_param_names_the_night_and_a_bad_one_leaves_it_unknown(tmp_path):
    warehouse = LocalStorage(tmp_path)
    on_task_failure(
        context(params={"business_date": "2024-02-01"}), lambda: warehouse, {}, Recorder()
    )
    assert (tmp_path / "alerts" / "business_date=2024-02-01").is_dir()
    on_task_failure(
        context(params={"business_date": "01/02/2024"}, data_interval_start=None),
        lambda: warehouse,
        {},
        Recorder(),
    )
    assert (tmp_path / "alerts" / "business_date=unknown").is_dir()


def test_never_raises_when_warehouse_and_notifiers_are_unreachable(tmp_path, caplog):
    class ReadOnly(LocalStorage):
        def write_bytes(self, key, data):
            raise OSError("read-only file system")

    def broken_warehouse():
        raise PermissionError("no access to the warehouse")

    def broken_send(record, targets, ctx):
        raise ConnectionError("refused")

    sent = Recorder()
    on_task_failure(context(), broken_warehouse, {}, sent)
    assert len(sent.sent) == 1  # no warehouse, no claim: sent rather than lost
    raise_alert(alert_record(context(), None), ReadOnly(tmp_path), AlertSettings(), broken_send, {})
    assert "ALERT recon: task ingest_billing_lines failed" in caplog.text
    assert "could not open the warehouse" in caplog.text
    assert "could not write the alert record" in caplog.text
    assert "could not send the alert: refused" in caplog.text


def test_alert_settings_name_connections():
    assert alert_settings({}) == AlertSettings()
    env = {
        "RECON_ALERT_HTTP_CONN_ID": "recon_alert_http",
        "RECON_ALERT_SLACK_CONN_ID": " recon_alert_slack ",
        "RECON_ALERT_SMTP_CONN_ID": "smtp_default",
        "RECON_ALERT_EMAIL_TO": "ops@example.com, finance@example.com",
    }
    assert alert_settings(env) == AlertSettings(
        "recon_alert_http",
        "recon_alert_slack",
        "smtp_default",
        ("ops@example.com", "finance@example.com"),
    )
    with pytest.raises(ConfigError, match="RECON_ALERT_EMAIL_TO is empty"):
        alert_settings({"RECON_ALERT_SMTP_CONN_ID": "smtp_default"})


# --- the notifiers, against servers on 127.0.0.1 -------------------------------------------


@pytest.fixture
def smtp_server():
    """A minimal SMTP server on 127.0.0.1; yields (port, received messages)."""
    received: list[str] = []

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(f"{line}\r\n".encode())

        def handle(self):
            self.reply("220 test ESMTP")
            while line := self.rfile.readline().decode():
                verb = line[:4].upper()
                if verb == "EHLO":
                    self.reply("250 test")
                elif verb == "DATA":
                    self.reply("354 go on")
                    body = []
                    while (part := self.rfile.readline().decode()) != ".\r\n":
                        body.append(part)
                    received.append("".join(body))
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 ok")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


@pytest.fixture
def slack_webhook():
    """A Slack-like incoming webhook on 127.0.0.1: answers 200 "ok"; yields (url, bodies)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/services/T0/B0/x", received
    server.shutdown()
    server.server_close()


def test_http_slack_and_smtp_notifiers_send_the_alert(
    webhook, slack_webhook, smtp_server, monkeypatch
):
    url, received = webhook
    slack_url, slack_received = slack_webhook
    port, mails = smtp_server
    monkeypatch.setenv(
        "AIRFLOW_CONN_RECON_ALERT_HTTP", json.dumps({"conn_type": "http", "host": url})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_RECON_ALERT_SLACK",
        json.dumps({"conn_type": "slackwebhook", "password": slack_url}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_RECON_ALERT_SMTP",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "recon@x"},
            }
        ),
    )
    targets = AlertSettings(
        "recon_alert_http", "recon_alert_slack", "recon_alert_smtp", ("ops@example.com",)
    )
    record = alert_record(
        context(error=RuntimeError("<b>{{ not a template }}</b>")), date(2024, 3, 14)
    )
    send(record, targets, {})
    assert received == [record]
    assert [m["text"] for m in slack_received] == [record["text"]]
    assert len(mails) == 1
    mail = email.message_from_string(mails[0])
    assert mail["Subject"] == "recon alert: ingest-RuntimeError for business date 2024-03-14"
    assert mail["To"] == "ops@example.com"
    body = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    assert "&lt;b&gt;{{ not a template }}&lt;/b&gt;" in body.get_payload(decode=True).decode()


def test_a_failing_notifier_does_not_stop_the_others(webhook, monkeypatch, caplog):
    url, received = webhook
    monkeypatch.setenv(
        "AIRFLOW_CONN_RECON_ALERT_HTTP", json.dumps({"conn_type": "http", "host": url})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_RECON_ALERT_SLACK",
        json.dumps({"conn_type": "slackwebhook", "password": "http://127.0.0.1:9/refused"}),
    )
    record = alert_record(context(), date(2024, 3, 14))
    send(record, AlertSettings("recon_alert_http", "recon_alert_slack"), {})
    assert received == [record]
    assert "could not send the alert through SlackWebhookNotifier" in caplog.text


def test_a_missed_deadline_is_recorded_and_sent(tmp_path):
    warehouse = LocalStorage(tmp_path)
    sent = Recorder()
    ctx = {
        "dag_run": {
            "dag_id": "recon_nightly",
            "dag_run_id": RUN_ID,
            "state": "running",
            "conf": {},
            "data_interval_start": "2024-03-14T02:00:00Z",
            "queued_at": "2024-03-15T02:00:03Z",
        },
        "deadline": {"id": "x", "deadline_time": "2024-03-15T06:00:00+00:00"},
    }
    on_deadline_missed(ctx, lambda: warehouse, {}, sent)
    on_deadline_missed(ctx, lambda: warehouse, {}, sent)  # the same run: not sent twice
    assert len(sent.sent) == 1
    assert sent.sent[0]["text"] == (
        f"recon: business date 2024-03-14 is not published by its deadline "
        f"2024-03-15T06:00:00+00:00 (run {RUN_ID}, state running)"
    )
    written = tmp_path / "alerts" / "business_date=2024-03-14" / f"{RUN_ID}-deadline.json"
    assert json.loads(written.read_text())["cause"] == "deadline"
    rerun = {**ctx, "dag_run": {**ctx["dag_run"], "conf": {"business_date": "2024-03-10"}}}
    assert deadline_record(rerun)["business_date"] == "2024-03-10"


def test_no_deadline_alert_for_a_night_queued_after_its_deadline(tmp_path):
    """A catch-up or backfill of past nights: every deadline is gone when the run starts."""
    warehouse = LocalStorage(tmp_path)
    sent = Recorder()
    ctx = {
        "dag_run": {
            "dag_run_id": "backfill__2024-03-15T02:00:00+00:00",
            "conf": {},
            "data_interval_start": "2024-03-14T02:00:00Z",
            "queued_at": "2026-12-01T13:00:00Z",
        },
        "deadline": {"deadline_time": datetime(2024, 3, 15, 6, tzinfo=UTC)},
    }
    on_deadline_missed(ctx, lambda: warehouse, {}, sent)
    assert sent.sent == [] and not (tmp_path / "alerts").exists()
    # queued one second before its deadline: alerted
    ctx["dag_run"]["queued_at"] = "2024-03-15T05:59:59+00:00"
    on_deadline_missed(ctx, lambda: warehouse, {}, sent)
    assert len(sent.sent) == 1
