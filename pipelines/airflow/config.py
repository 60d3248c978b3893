"""The nightly DAG's Airflow side of configuration: connections and the run's night.

Environment settings come from `pipelines.settings` (parse time reads nothing else). The
connections `recon_db` and `aws_default` are looked up when a task runs. Everything but
`connection()` works without Airflow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pipelines.layout import manifest_key
from pipelines.settings import (
    ENV_LANDING,
    ENV_WAREHOUSE,
    ConfigError,
    env_db_url,
    parse_date,
    required_env,
)

if TYPE_CHECKING:
    from pipelines.storage import Storage

# pipelines.contract.SOURCES, repeated so that parsing the DAG does not import polars
# (tests/test_dag.py checks they agree).
SOURCES = ("store_transactions", "sim_inventory", "billing_lines", "retention_campaigns")
DB_CONN_ID = "recon_db"
AWS_CONN_ID = "aws_default"


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
    key = manifest_key(source, day)
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
    return env_db_url(env)


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


def task_db_url(env: Mapping[str, str] = os.environ) -> str | None:
    """The case store URL a task uses (`db_url` with the `recon_db` connection)."""
    return db_url(connection(DB_CONN_ID), env)


def open_uri(uri: str) -> Storage:
    """A Storage for a URI, S3 ones with the `aws_default` connection's settings."""
    from pipelines.storage import open_storage

    if uri.startswith("s3://"):
        return open_storage(uri, **s3_options(connection(AWS_CONN_ID)))
    return open_storage(uri)


def open_landing(env: Mapping[str, str] = os.environ) -> Storage:
    return open_uri(required_env(ENV_LANDING, env))


def open_warehouse(env: Mapping[str, str] = os.environ) -> Storage:
    return open_uri(required_env(ENV_WAREHOUSE, env))


def locked(purpose: str) -> AbstractContextManager[None]:
    """The warehouse's lock for a task that changes what the night shares (its commit,
    the case store, the published files), as `recon run` takes it."""
    from pipelines.night import warehouse_lock
    from pipelines.settings import case_store_url

    warehouse = open_warehouse()
    return warehouse_lock(warehouse, case_store_url(task_db_url(), warehouse.root), purpose)
