"""Messages that leave recon (console, logs, alerts) carry no row content, no SQL parameters."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError

from pipelines.airflow.alerts import alert_record
from pipelines.casestore.engine import make_engine
from pipelines.redact import describe, reason

CUSTOMER = "CUST-SECRET-4711"


def polars_cast_error() -> Exception:
    with pytest.raises(pl.exceptions.InvalidOperationError) as info:
        pl.Series("amount", [CUSTOMER]).cast(pl.Int64)
    assert CUSTOMER in str(info.value)  # polars quotes the values it failed on
    return info.value


def test_a_polars_cast_error_keeps_its_reason_not_its_values():
    text = reason(polars_cast_error())
    assert CUSTOMER not in text
    assert text.startswith("conversion from")


def test_a_pyarrow_csv_error_keeps_its_reason_not_the_row():
    with pytest.raises(pa.ArrowInvalid) as info:
        pacsv.read_csv(io.BytesIO(f"a,b\n{CUSTOMER}\n".encode()))
    assert reason(info.value) == "CSV parse error: Expected 2 columns, got 1"


def test_sql_errors_carry_neither_parameters_nor_key_values(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert engine.hide_parameters
    table = Table("t", MetaData(), Column("customer_id", String, primary_key=True))
    table.create(engine)
    with pytest.raises(IntegrityError) as info, engine.begin() as conn:
        conn.execute(insert(table), [{"customer_id": CUSTOMER}, {"customer_id": CUSTOMER}])
    assert CUSTOMER not in str(info.value)  # hide_parameters
    assert CUSTOMER not in describe(info.value)
    assert describe(info.value) == "IntegrityError: UNIQUE constraint failed: t.customer_id"


def test_a_file_error_names_the_path():
    with pytest.raises(OSError) as info:
        Path("/nonexistent/part-0000.csv").read_bytes()
    assert reason(info.value) == "No such file or directory: /nonexistent/part-0000.csv"


def test_an_alert_of_a_library_error_names_no_values():
    ti = SimpleNamespace(
        task_id="ingest_billing_lines", run_id="r1", dag_id="d", try_number=1, log_url="l"
    )
    record = alert_record({"ti": ti, "exception": polars_cast_error()}, None)
    assert CUSTOMER not in record["text"] and CUSTOMER not in record["error"]
    assert record["error_type"] == "InvalidOperationError"


def test_recon_s_own_errors_are_kept_whole():
    from pipelines.casestore.migrate import SchemaError

    error = SchemaError("the case store has no schema version: run `recon db upgrade --db URL`")
    assert describe(error) == f"SchemaError: {error}"
