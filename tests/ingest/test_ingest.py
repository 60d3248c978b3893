"""Ingest: whole-partition rejections, row quarantine, typed curated output, commits."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipelines.contract import SOURCE_SPECS
from pipelines.ingest import (
    LoadedPartition,
    RejectedPartition,
    commit_partition,
    history,
    load_partition,
    snapshot,
)
from pipelines.storage import LocalStorage, parquet_bytes
from tests.support.landing import (
    BD,
    ICCID_1,
    ICCID_2,
    ICCID_3,
    PREFIX,
    ROW_BUILDERS,
    billing_row,
    csv_bytes,
    inventory_row,
    land,
    land_rows,
    letter_row,
    store_row,
)

# --- valid rows of each source (text, as a CSV carries them) -------------------------------


# --- landing zone helpers --------------------------------------------------------------------


def load(root: Path, source: str, business_date: date = BD) -> LoadedPartition:
    loaded = load_partition(
        LocalStorage(root / "landing"), source, business_date, LocalStorage(root / "warehouse")
    )
    assert loaded.rows_read == loaded.rows_loaded + loaded.rows_quarantined
    assert loaded.valid.schema == pl.Schema(SOURCE_SPECS[source].schema)
    return loaded


def load_and_commit(root: Path, source: str, business_date: date = BD) -> LoadedPartition:
    loaded = load(root, source, business_date)
    commit_partition(LocalStorage(root / "warehouse"), loaded)
    return loaded


def rejection(root: Path) -> RejectedPartition:
    """The rejection of the billing_lines partition of BD; checks that nothing was written."""
    with pytest.raises(RejectedPartition) as info:
        load(root, "billing_lines")
    exc = info.value
    assert (exc.source, exc.business_date, str(exc)) == ("billing_lines", BD, exc.message)
    assert not (root / "warehouse").exists()
    return exc


# --- whole-partition rejections --------------------------------------------------------------


def test_missing_partition_folder(tmp_path):
    exc = rejection(tmp_path)
    assert exc.file is None
    assert PREFIX in exc.message and "missing" in exc.message


def test_missing_manifest_means_still_arriving(tmp_path):
    folder = land_rows(tmp_path, "billing_lines", billing_row())
    (folder / "_manifest.json").unlink()
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/_manifest.json"
    assert "still arriving" in exc.message and exc.file in exc.message


def test_manifest_not_json(tmp_path):
    folder = land_rows(tmp_path, "billing_lines", billing_row())
    (folder / "_manifest.json").write_text('{"source": "billing_lines",')
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/_manifest.json"
    assert "not valid JSON" in exc.message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"source": "store_transactions"}, "field 'source' is 'store_transactions'"),
        ({"business_date": "2024-04-02"}, "field 'business_date' is '2024-04-02'"),
        ({"contract_version": 2}, "field 'contract_version' is 2"),
        ({"contract_version": "1"}, "field 'contract_version' is '1'"),
        ({"files": None}, "field 'files' is missing or not a list"),
        ({"files": [{"name": "part-0000.csv", "rows": 1}]}, "files[0].sha256 None"),
        ({"files": [{"name": "data.csv", "rows": 1, "sha256": "0" * 64}]}, "files[0].name"),
    ],
)
def test_manifest_fields_disagreeing_or_malformed(tmp_path, changes, expected):
    land_rows(tmp_path, "billing_lines", billing_row(), manifest=changes)
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/_manifest.json"
    assert expected in exc.message


def test_manifest_field_missing(tmp_path):
    folder = land_rows(tmp_path, "billing_lines", billing_row())
    manifest = json.loads((folder / "_manifest.json").read_text())
    del manifest["contract_version"]
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    assert "field 'contract_version' is missing" in rejection(tmp_path).message


def test_listed_file_missing(tmp_path):
    folder = land_rows(tmp_path, "billing_lines", billing_row())
    (folder / "part-0000.csv").unlink()
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/part-0000.csv"
    assert "listed in the manifest but missing" in exc.message


@pytest.mark.parametrize("name", ["part-0001.csv", "part-0001.parquet"])
def test_part_file_not_listed(tmp_path, name):
    folder = land_rows(tmp_path, "billing_lines", billing_row())
    (folder / name).write_bytes(csv_bytes([billing_row(line_id="L2")]))
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/{name}"
    assert "not listed in the manifest" in exc.message


def test_other_files_are_not_parts(tmp_path):
    folder = land_rows(tmp_path, "billing_lines", billing_row())
    (folder / "_SUCCESS").write_text("")
    (folder / "README.txt").write_text("hello")
    assert load(tmp_path, "billing_lines").rows_loaded == 1


def test_sha256_mismatch(tmp_path):
    folder = land_rows(tmp_path, "billing_lines", billing_row())
    (folder / "part-0000.csv").write_bytes(csv_bytes([billing_row(amount="21.00")]))
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/part-0000.csv"
    assert "sha256" in exc.message and "does not match" in exc.message


def test_row_count_mismatch(tmp_path):
    data = csv_bytes([billing_row(), billing_row(line_id="L2")])
    land(
        tmp_path,
        "billing_lines",
        {"part-0000.csv": data},
        manifest={
            "files": [
                {"name": "part-0000.csv", "rows": 3, "sha256": hashlib.sha256(data).hexdigest()}
            ]
        },
    )
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/part-0000.csv"
    assert "2 data rows but the manifest says 3" in exc.message


def test_row_count_is_records_not_lines(tmp_path):
    data = csv_bytes([billing_row(description="two\nlines"), billing_row(line_id="L2")])
    assert data.count(b"\n") - 1 == 3
    land(
        tmp_path,
        "billing_lines",
        {"part-0000.csv": data},
        manifest={
            "files": [
                {"name": "part-0000.csv", "rows": 3, "sha256": hashlib.sha256(data).hexdigest()}
            ]
        },
    )
    assert "2 data rows but the manifest says 3" in rejection(tmp_path).message


def test_missing_contract_column_names_file_and_column(tmp_path):
    columns = [c for c in billing_row() if c != "amount"]
    land(tmp_path, "billing_lines", {"part-0000.csv": csv_bytes([billing_row()], columns)})
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/part-0000.csv"
    assert exc.file in exc.message and "'amount'" in exc.message


def test_duplicated_header_column(tmp_path):
    columns = [*billing_row(), "amount"]
    land(tmp_path, "billing_lines", {"part-0000.csv": csv_bytes([billing_row()], columns)})
    assert "duplicate column(s) 'amount'" in rejection(tmp_path).message


def test_missing_contract_column_in_parquet(tmp_path):
    frame = pl.DataFrame([billing_row()]).drop("currency")
    land(tmp_path, "billing_lines", {"part-0000.parquet": parquet_bytes(frame)})
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/part-0000.parquet"
    assert "'currency'" in exc.message


def test_invalid_utf8(tmp_path):
    data = csv_bytes([billing_row(description="caf\u00e9")]).replace("é".encode(), b"\xe9")
    land(tmp_path, "billing_lines", {"part-0000.csv": data})
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/part-0000.csv"
    assert "not a readable CSV file" in exc.message and "UTF8" in exc.message


@pytest.mark.parametrize(
    "extra", [b"L9,BR1\n", b"L9," + b"x," * 14 + b"x\n"], ids=["short row", "long row"]
)
def test_ragged_rows(tmp_path, extra):
    data = csv_bytes([billing_row()]) + extra
    land(tmp_path, "billing_lines", {"part-0000.csv": data})
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/part-0000.csv"
    assert "not a readable CSV file" in exc.message


def test_unreadable_parquet(tmp_path):
    data = b"not parquet at all"
    files = [{"name": "part-0000.parquet", "rows": 1, "sha256": hashlib.sha256(data).hexdigest()}]
    land(tmp_path, "billing_lines", {"part-0000.parquet": data}, manifest={"files": files})
    exc = rejection(tmp_path)
    assert exc.file == f"{PREFIX}/part-0000.parquet"
    assert "not a readable Parquet file" in exc.message


def test_rejection_of_a_partition_writes_nothing_even_after_good_nights(tmp_path):
    land_rows(tmp_path, "billing_lines", billing_row(), business_date=date(2024, 3, 31))
    load_and_commit(tmp_path, "billing_lines", date(2024, 3, 31))
    folder = land_rows(tmp_path, "billing_lines", billing_row(line_id="L2"))
    (folder / "_manifest.json").unlink()
    with pytest.raises(RejectedPartition):
        load(tmp_path, "billing_lines")
    warehouse = LocalStorage(tmp_path / "warehouse")
    assert history(warehouse, "billing_lines", BD).collect()["line_id"].to_list() == ["L1"]


# --- row quarantine --------------------------------------------------------------------------

QUARANTINE_CASES = [
    ("billing_lines", {"account_id": None}, "account_id: missing"),
    (
        "store_transactions",
        {"transaction_ts": "2024-04-01 11:42:07"},
        "transaction_ts: not an ISO 8601 UTC timestamp ('2024-04-01 11:42:07')",
    ),
    (
        "store_transactions",
        {"transaction_ts": "2024-04-01T11:42:07+01:00"},
        "transaction_ts: not an ISO 8601 UTC timestamp",
    ),
    (
        "sim_inventory",
        {"activated_at": "2024-02-30T10:00:00Z"},
        "activated_at: not an ISO 8601 UTC timestamp ('2024-02-30T10:00:00Z')",
    ),
    (
        "billing_lines",
        {"period_end": "2024-4-30"},
        "period_end: not a YYYY-MM-DD date ('2024-4-30')",
    ),
    ("store_transactions", {"contract_months": "24.0"}, "contract_months: not an integer ('24.0')"),
    (
        "billing_lines",
        {"amount": "12.505"},
        "amount: not a decimal with at most 2 decimals ('12.505')",
    ),
    (
        "store_transactions",
        {"monthly_fee": "£20"},
        "monthly_fee: not a decimal with at most 2 decimals ('£20')",
    ),
    (
        "billing_lines",
        {"charge_type": "refund"},
        "charge_type: not one of recurring|usage|one_off|credit ('refund')",
    ),
    (
        "retention_campaigns",
        {"msisdn": "+447700900123"},
        "msisdn: not an MSISDN of 8 to 15 digits ('+447700900123')",
    ),
    (
        "billing_lines",
        {"iccid": "12345"},
        "iccid: not an ICCID of 19 or 20 digits starting 89 ('12345')",
    ),
    (
        "store_transactions",
        {"previous_iccid": ICCID_1[:-1] + str((int(ICCID_1[-1]) + 1) % 10)},
        "previous_iccid: ICCID with a wrong Luhn check digit",
    ),
    ("billing_lines", {"currency": "XYZ"}, "currency: not an ISO 4217 currency code ('XYZ')"),
    (
        "billing_lines",
        {"period_start": "2024-05-01"},
        "period_start: after period_end ('2024-05-01' > '2024-04-30')",
    ),
    (
        "billing_lines",
        {"charge_type": "credit", "amount": "5.00"},
        "amount: positive on a credit line ('5.00')",
    ),
    (
        "store_transactions",
        {"transaction_ts": "2024-03-31T23:59:59Z"},
        "transaction_ts: not on the business date 2024-04-01 ('2024-03-31T23:59:59Z')",
    ),
    (
        "retention_campaigns",
        {"scheduled_send_date": "2024-04-01"},
        "scheduled_send_date: not after the business date 2024-04-01 ('2024-04-01')",
    ),
]


@pytest.mark.parametrize(("source", "changes", "reason"), QUARANTINE_CASES)
def test_row_quarantined_with_reason(tmp_path, source, changes, reason):
    key = SOURCE_SPECS[source].key
    make = ROW_BUILDERS[source]
    keys = [ICCID_1, ICCID_2, ICCID_3] if source == "sim_inventory" else ["K1", "K2", "K3"]
    land_rows(
        tmp_path,
        source,
        make(**{key: keys[0]}),
        make(**changes, **{key: keys[1]}),
        make(**{key: keys[2]}),
    )
    loaded = load(tmp_path, source)
    assert (loaded.rows_read, loaded.rows_loaded, loaded.rows_quarantined) == (3, 2, 1)
    bad = loaded.quarantined.row(0, named=True)
    assert reason in bad["_reason"]
    assert (bad["_file"], bad["_row"], bad[key]) == ("part-0000.csv", 2, keys[1])
    for column, text in changes.items():
        assert bad[column] == text  # the original text is kept
    assert loaded.valid[key].to_list() == [keys[0], keys[2]]


def test_credit_with_zero_or_negative_amount_loads(tmp_path):
    land_rows(
        tmp_path,
        "billing_lines",
        billing_row(charge_type="credit", amount="-5.00"),
        billing_row(line_id="L2", charge_type="credit", amount="0"),
    )
    assert load(tmp_path, "billing_lines").rows_loaded == 2


def test_timestamp_forms_accepted(tmp_path):
    land_rows(
        tmp_path,
        "store_transactions",
        store_row(transaction_ts="2024-04-01T00:00:00Z"),
        store_row(transaction_id="T2", transaction_ts="2024-04-01T23:59:59+00:00"),
        store_row(transaction_id="T3", transaction_ts="2024-04-01T10:00:00.123456Z"),
    )
    loaded = load(tmp_path, "store_transactions")
    assert loaded.valid["transaction_ts"].to_list() == [
        datetime(2024, 4, 1, tzinfo=UTC),
        datetime(2024, 4, 1, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 4, 1, 10, 0, 0, 123456, tzinfo=UTC),
    ]


def test_every_failing_reason_of_a_row_is_collected(tmp_path):
    land_rows(
        tmp_path,
        "billing_lines",
        billing_row(customer_id=None, amount="1.234", currency="gbp", msisdn="12"),
    )
    reason = load(tmp_path, "billing_lines").quarantined["_reason"].item()
    assert reason == (
        "customer_id: missing; msisdn: not an MSISDN of 8 to 15 digits ('12'); "
        "amount: not a decimal with at most 2 decimals ('1.234'); "
        "currency: not an ISO 4217 currency code ('gbp')"
    )


def test_duplicate_key_within_partition_keeps_first_by_file_then_row(tmp_path):
    land(
        tmp_path,
        "billing_lines",
        {
            "part-0000.csv": csv_bytes([billing_row(line_id="L0"), billing_row(amount="1.00")]),
            "part-0001.csv": csv_bytes([billing_row(amount="2.00"), billing_row(line_id="L3")]),
            "part-0002.csv": csv_bytes([billing_row(amount="3.00")]),
        },
    )
    loaded = load(tmp_path, "billing_lines")
    assert loaded.valid["line_id"].to_list() == ["L0", "L1", "L3"]
    assert loaded.valid["amount"].to_list()[1] == Decimal("1.00")
    assert loaded.quarantined.select("_file", "_row", "_reason").rows() == [
        ("part-0001.csv", 1, "line_id: duplicate of part-0000.csv row 2"),
        ("part-0002.csv", 1, "line_id: duplicate of part-0000.csv row 2"),
    ]


def test_duplicate_of_a_quarantined_first_occurrence_is_quarantined_too(tmp_path):
    land_rows(tmp_path, "billing_lines", billing_row(amount="x"), billing_row())
    loaded = load(tmp_path, "billing_lines")
    assert loaded.rows_loaded == 0
    assert loaded.quarantined["_reason"].to_list() == [
        "amount: not a decimal with at most 2 decimals ('x')",
        "line_id: duplicate of part-0000.csv row 1",
    ]


def test_duplicate_key_of_an_earlier_business_date(tmp_path):
    land_rows(tmp_path, "billing_lines", billing_row(), business_date=date(2024, 3, 31))
    load_and_commit(tmp_path, "billing_lines", date(2024, 3, 31))
    land_rows(tmp_path, "billing_lines", billing_row(), billing_row(line_id="L2"))
    loaded = load(tmp_path, "billing_lines")
    assert loaded.valid["line_id"].to_list() == ["L2"]
    assert loaded.quarantined["_reason"].to_list() == [
        "line_id: already loaded for business date 2024-03-31"
    ]


def test_duplicate_key_of_a_later_business_date(tmp_path):
    land_rows(
        tmp_path,
        "store_transactions",
        store_row(transaction_ts="2024-04-02T08:00:00Z"),
        business_date=date(2024, 4, 2),
    )
    load_and_commit(tmp_path, "store_transactions", date(2024, 4, 2))
    land_rows(tmp_path, "store_transactions", store_row())
    assert load(tmp_path, "store_transactions").quarantined["_reason"].to_list() == [
        "transaction_id: already loaded for business date 2024-04-02"
    ]


def test_reloading_the_same_night_does_not_count_its_own_keys(tmp_path):
    land_rows(tmp_path, "retention_campaigns", letter_row())
    load_and_commit(tmp_path, "retention_campaigns")
    assert load_and_commit(tmp_path, "retention_campaigns").rows_loaded == 1


def test_inventory_iccid_is_unique_within_a_snapshot_only(tmp_path):
    land_rows(tmp_path, "sim_inventory", inventory_row(), business_date=date(2024, 3, 31))
    load_and_commit(tmp_path, "sim_inventory", date(2024, 3, 31))
    land_rows(tmp_path, "sim_inventory", inventory_row(), inventory_row(status="suspended"))
    loaded = load(tmp_path, "sim_inventory")
    assert loaded.valid["status"].to_list() == ["active"]
    assert loaded.quarantined["_reason"].to_list() == ["iccid: duplicate of part-0000.csv row 1"]


# --- reading ---------------------------------------------------------------------------------


def test_multi_part_partition(tmp_path):
    land(
        tmp_path,
        "store_transactions",
        {
            f"part-{i:04d}.csv": csv_bytes(
                [store_row(transaction_id=f"T{i}-{j}") for j in range(3)]
            )
            for i in range(4)
        },
    )
    loaded = load(tmp_path, "store_transactions")
    assert loaded.files == ["part-0000.csv", "part-0001.csv", "part-0002.csv", "part-0003.csv"]
    assert loaded.rows_loaded == 12
    assert loaded.valid["transaction_id"].to_list()[:4] == ["T0-0", "T0-1", "T0-2", "T1-0"]


def test_parquet_part_with_native_types(tmp_path):
    native = pl.DataFrame(
        [billing_row(line_id="P1")],
    ).with_columns(
        pl.col("period_start", "period_end").str.to_date(),
        pl.col("amount").cast(pl.Decimal(12, 4)),
    )
    land(
        tmp_path,
        "billing_lines",
        {
            "part-0000.csv": csv_bytes([billing_row()]),
            "part-0001.parquet": parquet_bytes(native),
        },
    )
    loaded = load(tmp_path, "billing_lines")
    assert loaded.rows_loaded == 2
    assert loaded.valid.row(0)[1:] == loaded.valid.row(1)[1:]


def test_parquet_timestamps_in_another_zone_and_int_columns(tmp_path):
    native = pl.DataFrame([store_row()]).with_columns(
        pl.col("transaction_ts")
        .str.to_datetime(time_zone="UTC")
        .dt.convert_time_zone("Europe/London"),
        pl.col("contract_months").cast(pl.Int32),
        pl.col("monthly_fee").cast(pl.Decimal(10, 3)),
    )
    bad = native.with_columns(
        pl.lit("T2").alias("transaction_id"),
        pl.lit(Decimal("12.345")).cast(pl.Decimal(10, 3)).alias("monthly_fee"),
    )
    part = parquet_bytes(pl.concat([native, bad]))
    land(tmp_path, "store_transactions", {"part-0000.parquet": part})
    loaded = load(tmp_path, "store_transactions")
    row = loaded.valid.row(0, named=True)
    assert row["transaction_ts"] == datetime(2024, 4, 1, 11, 42, 7, tzinfo=UTC)
    assert (row["contract_months"], row["monthly_fee"]) == (24, Decimal("20.00"))
    assert loaded.quarantined["_reason"].to_list() == [
        "monthly_fee: not a decimal with at most 2 decimals ('12.345')"
    ]


def test_extra_columns_are_ignored(tmp_path):
    rows = [{**billing_row(), "internal_note": "x", "zz": "1"}]
    columns = ["zz", *billing_row(), "internal_note"]
    land(tmp_path, "billing_lines", {"part-0000.csv": csv_bytes(rows, columns)})
    loaded = load(tmp_path, "billing_lines")
    assert loaded.valid.columns == SOURCE_SPECS["billing_lines"].column_names
    assert loaded.rows_loaded == 1


def test_header_only_billing_partition(tmp_path):
    header = ",".join(SOURCE_SPECS["billing_lines"].column_names).encode()
    land(tmp_path, "billing_lines", {"part-0000.csv": header})
    loaded = load_and_commit(tmp_path, "billing_lines")
    assert (loaded.rows_read, loaded.rows_loaded, loaded.rows_quarantined) == (0, 0, 0)
    curated = tmp_path / "warehouse/curated/billing_lines/business_date=2024-04-01/data.parquet"
    assert pl.read_parquet(curated).schema == pl.Schema(SOURCE_SPECS["billing_lines"].schema)


def test_quoted_fields_with_commas_quotes_and_newlines(tmp_path):
    text = 'Roaming, EU "day" pass\nsecond line'
    land_rows(tmp_path, "billing_lines", billing_row(description=text), billing_row(line_id="L2"))
    loaded = load(tmp_path, "billing_lines")
    assert loaded.valid["description"].to_list() == [text, "Monthly plan"]


def test_quarantined_row_numbers_count_records_not_lines(tmp_path):
    land_rows(
        tmp_path,
        "billing_lines",
        billing_row(description="a\nb\nc"),
        billing_row(line_id="L2", amount="x"),
    )
    assert load(tmp_path, "billing_lines").quarantined["_row"].to_list() == [2]


def test_identifiers_stay_strings_with_leading_zeros(tmp_path):
    land_rows(
        tmp_path,
        "billing_lines",
        billing_row(
            line_id="000123",
            customer_id="00042",
            account_id="0007",
            msisdn="07700900123",
            invoice_id="0001",
        ),
    )
    row = load(tmp_path, "billing_lines").valid.row(0, named=True)
    assert (row["line_id"], row["customer_id"], row["account_id"]) == ("000123", "00042", "0007")
    assert (row["msisdn"], row["invoice_id"]) == ("07700900123", "0001")


def test_only_empty_fields_are_null(tmp_path):
    data = csv_bytes(
        [
            billing_row(description="NA", tariff_code="null"),
            billing_row(line_id="L2", description="QUOTED_EMPTY", tariff_code=None),
        ]
    ).replace(b"QUOTED_EMPTY", b'""')
    land(tmp_path, "billing_lines", {"part-0000.csv": data})
    loaded = load(tmp_path, "billing_lines")
    assert loaded.valid["description"].to_list() == ["NA", None]
    assert loaded.valid["tariff_code"].to_list() == ["null", None]


def test_csv_header_only_without_final_newline_and_crlf(tmp_path):
    crlf = csv_bytes([billing_row()]).replace(b"\n", b"\r\n")
    land(
        tmp_path,
        "billing_lines",
        {
            "part-0000.csv": ",".join(SOURCE_SPECS["billing_lines"].column_names).encode(),
            "part-0001.csv": crlf,
        },
    )
    loaded = load(tmp_path, "billing_lines")
    assert loaded.rows_loaded == 1 and loaded.valid["currency"].item() == "GBP"


# --- commit and history ----------------------------------------------------------------------


def test_commit_writes_curated_and_quarantine(tmp_path):
    land_rows(tmp_path, "billing_lines", billing_row(), billing_row(line_id="L2", amount="x"))
    load_and_commit(tmp_path, "billing_lines")
    night = "business_date=2024-04-01"
    curated = pl.read_parquet(tmp_path / f"warehouse/curated/billing_lines/{night}/data.parquet")
    assert curated["line_id"].to_list() == ["L1"]
    quarantine = tmp_path / f"warehouse/quarantine/billing_lines/{night}"
    parquet = pl.read_parquet(quarantine / "quarantine.parquet")
    assert parquet.columns[-3:] == ["_file", "_row", "_reason"]
    assert parquet["line_id"].to_list() == ["L2"]
    assert pl.read_csv(quarantine / "quarantine.csv", infer_schema=False)["amount"].item() == "x"


def test_recommit_of_the_same_night_replaces(tmp_path):
    rows = billing_row(), billing_row(line_id="L2", amount="x")
    folder = land_rows(tmp_path, "billing_lines", *rows)
    load_and_commit(tmp_path, "billing_lines")
    load_and_commit(tmp_path, "billing_lines")
    warehouse = LocalStorage(tmp_path / "warehouse")
    assert history(warehouse, "billing_lines", BD).collect().height == 1
    quarantine = tmp_path / "warehouse/quarantine/billing_lines/business_date=2024-04-01"
    assert pl.read_parquet(quarantine / "quarantine.parquet").height == 1

    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    land_rows(tmp_path, "billing_lines", billing_row(), billing_row(line_id="L2"))
    load_and_commit(tmp_path, "billing_lines")
    assert history(warehouse, "billing_lines", BD).collect()["line_id"].to_list() == ["L1", "L2"]
    assert not quarantine.exists()


def test_history_and_snapshot(tmp_path):
    warehouse = LocalStorage(tmp_path / "warehouse")
    empty = history(warehouse, "store_transactions", BD).collect()
    assert empty.height == 0
    assert empty.schema == pl.Schema(
        {**SOURCE_SPECS["store_transactions"].schema, "business_date": pl.Date()}
    )
    for day in (1, 2, 3):
        d = date(2024, 4, day)
        land_rows(
            tmp_path,
            "store_transactions",
            store_row(transaction_id=f"T{day}", transaction_ts=f"{d}T09:00:00Z"),
            business_date=d,
        )
        load_and_commit(tmp_path, "store_transactions", d)
    up_to_2 = history(warehouse, "store_transactions", date(2024, 4, 2)).collect()
    assert up_to_2.select("transaction_id", "business_date").sort("business_date").rows() == [
        ("T1", date(2024, 4, 1)),
        ("T2", date(2024, 4, 2)),
    ]
    assert up_to_2.schema == empty.schema
    one = snapshot(warehouse, "store_transactions", date(2024, 4, 3)).collect()
    assert one["transaction_id"].to_list() == ["T3"]
    assert snapshot(warehouse, "store_transactions", date(2024, 4, 9)).collect().height == 0
