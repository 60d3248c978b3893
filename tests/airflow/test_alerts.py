"""The DAG's failure alerts, without Airflow: the record, its key, the webhook, no raising."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

from pipelines.airflow.alerts import alert_key, alert_record, on_task_failure, raise_alert
from pipelines.storage import LocalStorage

RUN_ID = "scheduled__2024-03-14T02:00:00+00:00"


def context(**extra):
    ti = SimpleNamespace(
        dag_id="recon_nightly",
        run_id=RUN_ID,
        task_id="ingest_billing_lines",
        try_number=1,
        log_url="http://airflow/dags/recon_nightly/runs/x",
    )
    return {
        "ti": ti,
        "exception": RuntimeError("billing_lines: sha256 mismatch"),
        "params": {"business_date": None},
        "data_interval_start": datetime(2024, 3, 14, 2, tzinfo=UTC),
        **extra,
    }


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
        "error_type": "RuntimeError",
        "error": "billing_lines: sha256 mismatch",
        "log_url": "http://airflow/dags/recon_nightly/runs/x",
    }
    assert alert_key(record) == (
        f"alerts/business_date=2024-03-14/{RUN_ID}-ingest_billing_lines.json"
    )


def test_key_of_an_unknown_date_and_an_odd_run_id():
    record = alert_record(context(), None)
    record["dag_run_id"] = "manual/run 1"
    assert alert_key(record) == (
        "alerts/business_date=unknown/manual_run_1-ingest_billing_lines.json"
    )


def test_callback_writes_the_record_and_posts_it(tmp_path, webhook):
    url, received = webhook
    warehouse = LocalStorage(tmp_path)
    on_task_failure(context(), lambda: warehouse, {"RECON_ALERT_WEBHOOK": url})
    folder = tmp_path / "alerts" / "business_date=2024-03-14"
    written = folder / f"{RUN_ID}-ingest_billing_lines.json"
    record = json.loads(written.read_text())
    assert record["error"] == "billing_lines: sha256 mismatch"
    assert received == [record]


def test_param_names_the_night_and_a_bad_one_leaves_it_unknown(tmp_path):
    warehouse = LocalStorage(tmp_path)
    on_task_failure(context(params={"business_date": "2024-02-01"}), lambda: warehouse, {})
    assert (tmp_path / "alerts" / "business_date=2024-02-01").is_dir()
    on_task_failure(
        context(params={"business_date": "01/02/2024"}, data_interval_start=None),
        lambda: warehouse,
        {},
    )
    assert (tmp_path / "alerts" / "business_date=unknown").is_dir()


def test_never_raises_when_warehouse_and_webhook_are_unreachable(tmp_path, caplog):
    class ReadOnly(LocalStorage):
        def write_bytes(self, key, data):
            raise OSError("read-only file system")

    def broken_warehouse():
        raise PermissionError("no access to the warehouse")

    on_task_failure(context(), broken_warehouse, {"RECON_ALERT_WEBHOOK": "http://127.0.0.1:9/x"})
    raise_alert(alert_record(context(), None), ReadOnly(tmp_path), "not a url")
    assert "ALERT recon: task ingest_billing_lines failed" in caplog.text
    assert "could not open the warehouse" in caplog.text
    assert "could not write the alert record" in caplog.text
    assert "could not POST the alert" in caplog.text
