"""Configuration of the nightly Airflow DAG: environment variables and Airflow connections.

Parse-time settings (`dag_settings`) read the environment only: no database, no
connection. The connections `recon_db` and `aws_default` are looked up when a task runs.
Everything but `connection()` works without Airflow.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.storage import Storage

# pipelines.contract.SOURCES, repeated so that parsing the DAG does not import polars
# (tests/test_dag.py checks they agree).
SOURCES = ("store_transactions", "sim_inventory", "billing_lines", "retention_campaigns")
DB_CONN_ID = "recon_db"
AWS_CONN_ID = "aws_default"
DEFAULT_START_DATE = "2024-01-01"
DEFAULT_SENSOR_TIMEOUT = 6 * 3600.0
DEFAULT_POKE_INTERVAL = 60.0
MAX_SHARDS = 1024  # Airflow's default [core] max_map_length
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_FLAGS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
    "": False,
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class DagSettings:
    """What the DAG needs when it is parsed."""

    landing: str
    catchup: bool
    start_date: datetime
    sensor_timeout: float
    poke_interval: float
    shards: int

    @property
    def landing_on_s3(self) -> bool:
        return self.landing.startswith("s3://")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be positive")
    return value


def _shards(env: Mapping[str, str]) -> int:
    raw = env.get("RECON_SHARDS", "").strip() or "1"
    if not re.fullmatch(r"[0-9]+", raw) or not 1 <= int(raw) <= MAX_SHARDS:
        raise ConfigError(f"RECON_SHARDS={raw!r} is not a whole number from 1 to {MAX_SHARDS}")
    return int(raw)


def parse_date(value: str, what: str) -> date:
    """A YYYY-MM-DD date, or a ConfigError naming `what`."""
    if not re.match(DATE_PATTERN, value or ""):
        raise ConfigError(f"{what}={value!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{what}={value!r} is not a valid date: {exc}") from None


def dag_settings(env: Mapping[str, str] = os.environ) -> DagSettings:
    """RECON_LANDING, RECON_CATCHUP, RECON_START_DATE, RECON_SENSOR_TIMEOUT,
    RECON_SENSOR_POKE_INTERVAL (seconds) and RECON_SHARDS, with their defaults."""
    flag = env.get("RECON_CATCHUP", "").strip().lower()
    if flag not in _FLAGS:
        raise ConfigError(f"RECON_CATCHUP={flag!r} is not a boolean (true/false)")
    start = parse_date(env.get("RECON_START_DATE") or DEFAULT_START_DATE, "RECON_START_DATE")
    return DagSettings(
        landing=env.get("RECON_LANDING", ""),
        catchup=_FLAGS[flag],
        start_date=datetime(start.year, start.month, start.day, tzinfo=UTC),
        sensor_timeout=_seconds(env, "RECON_SENSOR_TIMEOUT", DEFAULT_SENSOR_TIMEOUT),
        poke_interval=_seconds(env, "RECON_SENSOR_POKE_INTERVAL", DEFAULT_POKE_INTERVAL),
        shards=_shards(env),
    )


def required_env(name: str, env: Mapping[str, str] = os.environ) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set: give the URI (local path or s3://bucket/prefix)")
    return value


def business_date(param: str | None, data_interval_start: datetime | None) -> date:
    """The night a run processes: the `business_date` param if given, else the UTC date
    of the run's data interval start."""
    if param:
        return parse_date(param, "param business_date")
    if data_interval_start is None:
        raise ConfigError(
            "this run has no data interval (a manual run without a logical "
            "date): set the param business_date (YYYY-MM-DD) to name the night"
        )
    return data_interval_start.astimezone(UTC).date()


def manifest_location(landing_uri: str, source: str, day: date) -> str:
    """Where the sensor looks for a source's manifest: an s3:// URI or an absolute path."""
    key = f"{source}/business_date={day.isoformat()}/_manifest.json"
    if landing_uri.startswith("s3://"):
        return f"{landing_uri.rstrip('/')}/{key}"
    root = os.path.abspath(os.path.expanduser(landing_uri.removeprefix("file://")))
    return os.path.join(root, *key.split("/"))


def sqlalchemy_url(conn_uri: str) -> str:
    """An Airflow connection URI as a SQLAlchemy URL (PostgreSQL through psycopg 3)."""
    scheme, sep, rest = conn_uri.partition("://")
    if sep and scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return conn_uri


def db_url(conn: Any | None, env: Mapping[str, str] = os.environ) -> str | None:
    """The case store: connection `recon_db`, else RECON_DB_URL, else None (SQLite in a
    local warehouse)."""
    if conn is not None:
        return sqlalchemy_url(conn.get_uri())
    return env.get("RECON_DB_URL") or None


def s3_options(conn: Any | None) -> dict[str, str]:
    """open_storage keywords from connection `aws_default` (login, password, extra
    endpoint_url, region_name); empty without it, so the AWS environment applies."""
    if conn is None:
        return {}
    extra = conn.extra_dejson or {}
    endpoint = extra.get("endpoint_url") or extra.get("service_config", {}).get("s3", {}).get(
        "endpoint_url"
    )
    options = {
        "aws_access_key_id": conn.login or extra.get("aws_access_key_id"),
        "aws_secret_access_key": conn.password or extra.get("aws_secret_access_key"),
        "aws_session_token": extra.get("aws_session_token"),
        "endpoint_url": endpoint,
        "region": extra.get("region_name"),
    }
    return {k: v for k, v in options.items() if v}


def connection(conn_id: str) -> Any | None:
    """The Airflow connection `conn_id`, or None when it is not defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def case_store_url(env: Mapping[str, str] = os.environ) -> str | None:
    return db_url(connection(DB_CONN_ID), env)


def open_uri(uri: str) -> Storage:
    """A Storage for a URI, S3 ones with the `aws_default` connection's settings."""
    from pipelines.storage import open_storage

    if uri.startswith("s3://"):
        return open_storage(uri, **s3_options(connection(AWS_CONN_ID)))
    return open_storage(uri)


def open_landing(env: Mapping[str, str] = os.environ) -> Storage:
    return open_uri(required_env("RECON_LANDING", env))


def open_warehouse(env: Mapping[str, str] = os.environ) -> Storage:
    return open_uri(required_env("RECON_WAREHOUSE", env))
