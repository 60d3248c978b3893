"""The S3 backend against a real HTTP S3 endpoint (moto's server, see conftest.py): every
Storage method, polars reads through storage_options, and `recon` with S3 landing zones
and warehouses."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import boto3
import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.generator import generate
from pipelines.ingest import RejectedPartition, load_partition
from pipelines.night import backfill
from pipelines.storage import LocalStorage, open_storage, parquet_bytes
from pipelines.storage.s3 import S3Storage
from tests.support.landing import BD, PREFIX, billing_row, csv_bytes, land, land_night


def upload(folder: Path, root: str) -> S3Storage:
    """Copy every file below `folder` to the S3 prefix `root`; returns that storage."""
    storage = S3Storage(root)
    files = [p for p in folder.rglob("*") if p.is_file()]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda p: storage.write_bytes(p.relative_to(folder).as_posix(), p.read_bytes()),
                files,
            )
        )
    return storage


def write_many(storage: S3Storage, keys: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: storage.write_bytes(k, k.encode()), keys))


@pytest.fixture
def storage(s3_bucket: str) -> S3Storage:
    return S3Storage(f"{s3_bucket}/root")


# --- the Storage methods -----------------------------------------------------------------------


def test_uris_and_open_storage(s3_bucket):
    nested = open_storage(f"{s3_bucket}/a//b/")
    assert isinstance(nested, S3Storage)
    assert nested.root == f"{s3_bucket}/a/b"
    assert nested.uri("x/y.parquet") == f"{s3_bucket}/a/b/x/y.parquet"
    assert S3Storage(s3_bucket).uri("k") == f"{s3_bucket}/k"
    assert isinstance(open_storage("relative/folder", region="ignored"), LocalStorage)


def test_write_read_and_exists(storage):
    storage.write_bytes("d/f.json", b"{}")
    storage.write_bytes("d/f.json", b'{"v": 2}')
    assert storage.read_bytes("d/f.json") == b'{"v": 2}'
    assert storage.exists("d/f.json")
    assert storage.exists("d")  # a folder that holds objects, as for a local path
    assert not storage.exists("d/f")
    assert not storage.exists("nothing")


def test_list_and_delete_prefix_over_many_pages(storage):
    keys = [f"many/{i % 7}/k{i:04d}" for i in range(1100)]  # over a page / a delete batch
    write_many(storage, [*keys, "many-not/x", "other/y"])
    assert storage.list_keys("/many/") == sorted(keys)
    assert storage.list_keys("many/3") == sorted(k for k in keys if k.startswith("many/3/"))
    assert storage.list_keys("absent") == []
    storage.delete_prefix("many")
    assert storage.list_keys("") == ["many-not/x", "other/y"]
    storage.delete_prefix("many")  # nothing there: not an error


def test_sha256_streams_the_object(storage):
    data = os.urandom(2_500_000)  # three 1 MiB chunks
    storage.write_bytes("big.bin", data)
    assert storage.sha256("big.bin") == hashlib.sha256(data).hexdigest()


def test_missing_object_errors_name_the_uri(storage):
    uri = storage.uri("no/such.csv")
    with pytest.raises(FileNotFoundError, match=f"no such S3 object: {uri}"):
        storage.read_bytes("no/such.csv")
    with pytest.raises(FileNotFoundError, match=uri):
        storage.sha256("no/such.csv")


def test_missing_bucket_errors_name_the_bucket(s3_server):
    missing = S3Storage(f"s3://recon-missing-{uuid.uuid4().hex[:8]}/landing")
    for call in (
        lambda: missing.list_keys("x"),
        lambda: missing.exists("x/_manifest.json"),
        lambda: missing.read_bytes("x"),
        lambda: missing.write_bytes("x", b""),
    ):
        with pytest.raises(FileNotFoundError, match=f"bucket '{missing.bucket}' does not exist"):
            call()


def test_replace_prefix_swaps_in_exactly_the_new_files(storage):
    storage.replace_prefix(
        "night", {"cases.parquet": b"old", "old.csv": b"x", "summary.json": b"1"}
    )
    storage.write_bytes("night2/keep", b"k")
    storage.replace_prefix(
        "night", {"cases.parquet": b"new", "sub/report.html": b"r", "summary.json": b"2"}
    )
    assert storage.list_keys("night") == [
        "night/cases.parquet",
        "night/sub/report.html",
        "night/summary.json",
    ]
    assert storage.read_bytes("night/cases.parquet") == b"new"
    assert storage.read_bytes("night/summary.json") == b"2"
    assert storage.list_keys("") == [*storage.list_keys("night"), "night2/keep"]  # no staging left


def test_versions_come_with_the_listing_and_change_with_the_content(storage):
    storage.replace_prefix("curated/d", {"data.parquet": b"1", "_ingest.json": b"{}"})
    first = storage.versions("curated")
    assert list(first) == storage.list_keys("curated")
    storage.replace_prefix("curated/d", {"data.parquet": b"2", "_ingest.json": b"{}"})
    changed = storage.versions("curated")
    assert changed["curated/d/data.parquet"] != first["curated/d/data.parquet"]
    assert changed["curated/d/_ingest.json"] == first["curated/d/_ingest.json"]
    assert storage.versions("absent") == {}


def test_replace_prefix_writes_control_files_last(storage):
    storage.replace_prefix("n", {"summary.json": b"1", "cases.parquet": b"1", "a.csv": b"1"})
    calls = []
    events = storage._client.meta.events  # observe the requests the real client sends
    events.register(
        "before-parameter-build.s3.CopyObject",
        lambda params, **_: calls.append(("copy", params["Key"])),
    )
    events.register(
        "before-parameter-build.s3.DeleteObjects",
        lambda params, **_: calls.append(
            ("delete", sorted(o["Key"] for o in params["Delete"]["Objects"]))
        ),
    )
    storage.replace_prefix("n", {"summary.json": b"2", "cases.parquet": b"2"})
    root = storage.prefix
    # Old control files and stale objects go first, then data, then the control files.
    assert calls[0] == ("delete", [f"{root}/n/a.csv", f"{root}/n/summary.json"])
    assert calls[1:3] == [("copy", f"{root}/n/cases.parquet"), ("copy", f"{root}/n/summary.json")]
    assert calls[3][0] == "delete" and all(".staging/" in k for k in calls[3][1])


def test_failed_upload_leaves_the_prefix_untouched(storage):
    storage.replace_prefix("n", {"cases.parquet": b"old", "summary.json": b"old"})
    events = storage._client.meta.events

    def fail(params, **_):
        if params["Key"].endswith("summary.json"):
            raise ConnectionError("network down")

    events.register("before-parameter-build.s3.PutObject", fail)
    with pytest.raises(ConnectionError):
        storage.replace_prefix("n", {"cases.parquet": b"new", "summary.json": b"new"})
    assert storage.list_keys("") == ["n/cases.parquet", "n/summary.json"]
    assert storage.read_bytes("n/cases.parquet") == b"old"


# --- polars and ingest -------------------------------------------------------------------------


def test_polars_scans_an_s3_uri_with_storage_options(storage, s3_server):
    frame = pl.DataFrame({"id": ["007", "42"], "amount": [1.5, -2.25]})
    storage.write_bytes("t/data.parquet", parquet_bytes(frame))
    options = storage.storage_options
    assert options["aws_endpoint_url"] == s3_server
    assert options["aws_allow_http"] == "true"
    assert options["aws_access_key_id"] == "testing"
    got = pl.scan_parquet(storage.uri("t/data.parquet"), storage_options=options).collect()
    assert got.equals(frame)


def test_explicit_options_override_the_environment(s3_server, s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    storage = open_storage(
        f"{s3_bucket}/p",
        endpoint_url=s3_server,
        region="us-east-1",
        aws_access_key_id="conn-key",
        aws_secret_access_key="conn-secret",
    )
    storage.write_bytes("t/data.parquet", parquet_bytes(pl.DataFrame({"a": [1]})))
    options = storage.storage_options
    assert (options["aws_endpoint_url"], options["aws_region"]) == (s3_server, "us-east-1")
    assert (options["aws_access_key_id"], options["aws_secret_access_key"]) == (
        "conn-key",
        "conn-secret",
    )
    assert "aws_session_token" not in options
    assert pl.read_parquet(storage.uri("t/data.parquet"), storage_options=options).height == 1


def test_ingest_reads_csv_and_parquet_parts_from_s3(tmp_path, s3_bucket):
    native = pl.DataFrame([billing_row(line_id="P1")]).with_columns(
        pl.col("period_start", "period_end").str.to_date(),
        pl.col("amount").cast(pl.Decimal(12, 2)),
    )
    land(
        tmp_path,
        "billing_lines",
        {"part-0000.csv": csv_bytes([billing_row()]), "part-0001.parquet": parquet_bytes(native)},
    )
    landing = upload(tmp_path / "landing", f"{s3_bucket}/landing")
    warehouse = S3Storage(f"{s3_bucket}/warehouse")
    loaded = load_partition(landing, "billing_lines", BD, warehouse)
    assert (loaded.rows_loaded, loaded.rows_quarantined) == (2, 0)
    with pytest.raises(RejectedPartition, match="partition folder is missing"):
        load_partition(landing, "store_transactions", BD, warehouse)
    boto3.client("s3").delete_object(
        Bucket=landing.bucket, Key=f"{landing.prefix}/{PREFIX}/_manifest.json"
    )
    with pytest.raises(RejectedPartition, match="still arriving"):
        load_partition(landing, "billing_lines", BD, warehouse)


# --- recon run and backfill on S3 --------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(main, [*args, "--no-validate"])


@pytest.fixture(scope="module")
def generated_on_s3(s3_server, tmp_path_factory):
    """A generated world (60 customers, 75 days) on a bucket of its own: the landing zone,
    and a warehouse holding every night but the last two (backfilled locally, for speed)."""
    root = tmp_path_factory.mktemp("s3_world")
    generated = generate(root / "landing", seed=5, customers=60, start=date(2024, 1, 1), days=75)
    dates = generated.business_dates
    backfill(
        str(root / "landing"),
        str(root / "warehouse"),
        dates[0],
        dates[-3],
        f"sqlite:///{root / 'recon.db'}",
        validate=False,
    )
    bucket = f"recon-world-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    upload(root / "landing", f"s3://{bucket}/landing")
    upload(root / "warehouse", f"s3://{bucket}/warehouse")
    return root, generated, f"s3://{bucket}"


def test_backfill_on_s3_publishes_the_ground_truth(generated_on_s3):
    root, generated, bucket = generated_on_s3
    dates = generated.business_dates
    result = invoke(
        "backfill",
        "--landing",
        f"{bucket}/landing",
        "--warehouse",
        f"{bucket}/warehouse",
        "--start",
        str(dates[-2]),
        "--end",
        str(dates[-1]),
        "--db",
        f"sqlite:///{root / 'recon.db'}",
    )
    assert result.exit_code == 0, result.output
    assert (
        f"last report: {bucket}/warehouse/cases/business_date={dates[-1]}/report.html"
        in result.output
    )
    warehouse = S3Storage(f"{bucket}/warehouse")
    night = f"cases/business_date={dates[-1]}"
    cases = pl.read_parquet(
        warehouse.uri(f"{night}/cases.parquet"), storage_options=warehouse.storage_options
    )
    truth = json.loads(generated.ground_truth_path.read_text())
    assert sorted(cases["case_id"]) == sorted(c["case_id"] for c in truth["cases"])
    summary = json.loads(warehouse.read_bytes(f"{night}/summary.json"))
    assert summary["cases"]["published"] == cases.height
    assert warehouse.list_keys("staging") == []
    assert not [k for k in warehouse.list_keys("") if ".staging/" in k]


def test_rejected_night_on_s3_exits_2_and_publishes_nothing(tmp_path, s3_bucket):
    land_night(tmp_path)
    part = tmp_path / "landing" / PREFIX / "part-0000.csv"
    part.write_bytes(part.read_bytes().replace(b"20.00", b"21.00"))
    upload(tmp_path / "landing", f"{s3_bucket}/landing")
    args = [
        "--landing",
        f"{s3_bucket}/landing",
        "--warehouse",
        f"{s3_bucket}/warehouse",
        "--db",
        f"sqlite:///{tmp_path / 'recon.db'}",
    ]
    result = invoke("run", *args, "--business-date", str(BD))
    assert result.exit_code == 2, result.output
    assert f"{PREFIX}/part-0000.csv" in result.output and "sha256" in result.output
    missing = invoke("run", *args, "--business-date", "2024-04-02")
    assert missing.exit_code == 2, missing.output
    assert "store_transactions/business_date=2024-04-02" in missing.output
    assert S3Storage(f"{s3_bucket}/warehouse").list_keys("") == []


def test_landing_on_s3_with_a_local_warehouse(tmp_path, s3_bucket):
    land_night(tmp_path)
    upload(tmp_path / "landing", f"{s3_bucket}/landing")
    warehouse = tmp_path / "warehouse"
    result = invoke(
        "run",
        "--landing",
        f"{s3_bucket}/landing",
        "--warehouse",
        str(warehouse),
        "--business-date",
        str(BD),
    )
    assert result.exit_code == 0, result.output
    assert (warehouse / "cases" / f"business_date={BD}" / "summary.json").exists()
    assert (warehouse / "recon.db").exists()


def test_s3_warehouse_needs_a_case_store_url(tmp_path, s3_bucket, monkeypatch):
    monkeypatch.delenv("RECON_DB_URL", raising=False)
    land_night(tmp_path)
    upload(tmp_path / "landing", f"{s3_bucket}/landing")
    result = invoke(
        "run",
        "--landing",
        f"{s3_bucket}/landing",
        "--warehouse",
        f"{s3_bucket}/warehouse",
        "--business-date",
        str(BD),
    )
    assert result.exit_code == 1
    assert f"no default case store for warehouse {s3_bucket}/warehouse" in result.output
    assert "RECON_DB_URL" in result.output
    assert S3Storage(f"{s3_bucket}/warehouse").list_keys("cases") == []
