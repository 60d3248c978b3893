"""Every setting recon reads from the environment, resolved in one place.

Nothing else in the package reads `os.environ`: commands, tasks and the desk ask this
module. It imports nothing heavy (the DAG file parses it every 30 seconds).
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pipelines.catalogue import DEFAULT_SLA_DAYS, SEVERITY_ORDER

ENV_DB_URL = "RECON_DB_URL"
ENV_WAREHOUSE = "RECON_WAREHOUSE"
ENV_LANDING = "RECON_LANDING"
ENV_ALERT_HTTP_CONN = "RECON_ALERT_HTTP_CONN_ID"
ENV_ALERT_SLACK_CONN = "RECON_ALERT_SLACK_CONN_ID"
ENV_ALERT_SMTP_CONN = "RECON_ALERT_SMTP_CONN_ID"
ENV_ALERT_EMAIL_TO = "RECON_ALERT_EMAIL_TO"
DEFAULT_START_DATE = "2024-01-01"
DEFAULT_SENSOR_TIMEOUT = 6 * 3600.0
DEFAULT_POKE_INTERVAL = 60.0
# A waiting night gives up before the night after next is due, so it never holds a slot
# of max_active_runs that a recovered night needs (docs/operations.md, "Nights in order").
DEFAULT_PREVIOUS_NIGHT_WAIT = 20 * 3600.0
# Its first checks come soon (a catch-up moves on within seconds), then back off to at
# most PREVIOUS_NIGHT_BACKOFF times this interval (each check is a short task run).
DEFAULT_PREVIOUS_NIGHT_POKE = 15.0
PREVIOUS_NIGHT_BACKOFF = 40
DEFAULT_DEADLINE = "06:00"
VALIDATION_POOL = "recon_validation"
MAX_SHARDS = 1024  # Airflow's default [core] max_map_length
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
SQLITE_FILE = "recon.db"
# pipelines.contract.SOURCES, repeated so that this module imports nothing heavy (tested).
SOURCES = ("store_transactions", "sim_inventory", "billing_lines", "retention_campaigns")
ENV_QUARANTINE_MAX = "RECON_QUARANTINE_MAX"  # every source; RECON_QUARANTINE_MAX_<SOURCE> for one
ENV_INVENTORY_MIN_SHARE = "RECON_INVENTORY_MIN_SHARE"
ENV_LOCK_WAIT = "RECON_LOCK_WAIT"
ENV_QUALITY_PAGES = "RECON_QUALITY_PAGES"
DEFAULT_QUALITY_PAGES = 90
DEFAULT_QUARANTINE_MAX = Decimal("0.01")
DEFAULT_INVENTORY_MIN_SHARE = Decimal("0.98")
DEFAULT_LOCK_WAIT = 600.0
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


def parse_date(value: str, what: str) -> date:
    """A YYYY-MM-DD date, or a ConfigError naming `what`."""
    if not re.match(DATE_PATTERN, value or ""):
        raise ConfigError(f"{what}={value!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{what}={value!r} is not a valid date: {exc}") from None


def required_env(name: str, env: Mapping[str, str] = os.environ) -> str:
    """A URI setting that must be given (RECON_LANDING, RECON_WAREHOUSE)."""
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set: give the URI (local path or s3://bucket/prefix)")
    return value


def env_db_url(env: Mapping[str, str] = os.environ) -> str | None:
    """RECON_DB_URL, or None when it is not set."""
    return env.get(ENV_DB_URL, "").strip() or None


def env_warehouse(env: Mapping[str, str] = os.environ) -> str | None:
    """RECON_WAREHOUSE, or None when it is not set."""
    return env.get(ENV_WAREHOUSE, "").strip() or None


def default_db_url(warehouse: str) -> str:
    """The embedded case store: SQLite file `recon.db` at the root of a local warehouse."""
    if warehouse.startswith("s3://"):
        raise ConfigError(
            f"no default case store for warehouse {warehouse}: give --db or set {ENV_DB_URL}"
        )
    path = Path(warehouse.removeprefix("file://")).expanduser().resolve() / SQLITE_FILE
    return f"sqlite:///{path}"


def case_store_url(
    db_url: str | None = None,
    warehouse: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> str:
    """The case store: `db_url`, else RECON_DB_URL, else SQLite in the local warehouse
    (`warehouse`, else RECON_WAREHOUSE); a ConfigError when none of them is given."""
    url = db_url or env_db_url(env)
    if url:
        return url
    root = warehouse or env_warehouse(env)
    if not root:
        raise ConfigError(f"no case store: give --db or --warehouse, or set {ENV_DB_URL}")
    return default_db_url(root)


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go: Airflow connection ids of an HTTP webhook, a Slack incoming webhook
    and an SMTP server (with the recipients); each unset one is not used."""

    http_conn_id: str | None = None
    slack_conn_id: str | None = None
    smtp_conn_id: str | None = None
    email_to: tuple[str, ...] = ()


def alert_settings(env: Mapping[str, str] = os.environ) -> AlertSettings:
    """RECON_ALERT_HTTP_CONN_ID, RECON_ALERT_SLACK_CONN_ID, RECON_ALERT_SMTP_CONN_ID and
    RECON_ALERT_EMAIL_TO (comma-separated addresses, needed with the SMTP connection)."""
    smtp = env.get(ENV_ALERT_SMTP_CONN, "").strip() or None
    to = tuple(a.strip() for a in env.get(ENV_ALERT_EMAIL_TO, "").split(",") if a.strip())
    if smtp and not to:
        raise ConfigError(f"{ENV_ALERT_SMTP_CONN} is set but {ENV_ALERT_EMAIL_TO} is empty")
    return AlertSettings(
        http_conn_id=env.get(ENV_ALERT_HTTP_CONN, "").strip() or None,
        slack_conn_id=env.get(ENV_ALERT_SLACK_CONN, "").strip() or None,
        smtp_conn_id=smtp,
        email_to=to,
    )


def s3_endpoint(env: Mapping[str, str] = os.environ) -> str | None:
    """A custom S3 endpoint (MinIO, moto): AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL."""
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def session_environment(
    names: tuple[str, ...], env: Mapping[str, str] = os.environ
) -> tuple[str | None, ...]:
    """The values of the AWS variables a boto3 session reads when it is created (a cache key)."""
    return tuple(env.get(name) for name in names)


def aws_region(env: Mapping[str, str] = os.environ) -> str | None:
    """AWS_REGION, when set (boto3 itself reads AWS_DEFAULT_REGION)."""
    return env.get("AWS_REGION") or None


@dataclass(frozen=True)
class DagSettings:
    """What the DAG needs when it is parsed."""

    landing: str
    catchup: bool
    start_date: datetime
    sensor_timeout: float
    poke_interval: float
    shards: int
    end_date: datetime | None = None
    deadline: time | None = time(6, 0)
    previous_night_wait: float = DEFAULT_PREVIOUS_NIGHT_WAIT
    previous_night_poke: float = DEFAULT_PREVIOUS_NIGHT_POKE

    @property
    def landing_on_s3(self) -> bool:
        return self.landing.startswith("s3://")


def _seconds(env: Mapping[str, str], name: str, default: float, zero: bool = False) -> float:
    """A finite number of seconds from `name`, else `default`; positive, or 0 too if `zero`."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise ConfigError(f"{name}={raw!r} must be {'0 or more' if zero else 'positive'}")
    return value


def _shards(env: Mapping[str, str]) -> int:
    raw = env.get("RECON_SHARDS", "").strip() or "1"
    if not re.fullmatch(r"[0-9]+", raw) or not 1 <= int(raw) <= MAX_SHARDS:
        raise ConfigError(f"RECON_SHARDS={raw!r} is not a whole number from 1 to {MAX_SHARDS}")
    return int(raw)


def _deadline(env: Mapping[str, str]) -> time | None:
    raw = env.get("RECON_DEADLINE", "").strip() or DEFAULT_DEADLINE
    if raw.lower() == "off":
        return None
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", raw)
    if not match:
        raise ConfigError(f"RECON_DEADLINE={raw!r} is not a UTC time HH:MM (or off)")
    return time(int(match[1]), int(match[2]))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def dag_settings(env: Mapping[str, str] = os.environ) -> DagSettings:
    """RECON_LANDING, RECON_CATCHUP, RECON_START_DATE, RECON_END_DATE (the last business
    date a scheduled run is created for; empty: none), RECON_SENSOR_TIMEOUT,
    RECON_SENSOR_POKE_INTERVAL, RECON_PREVIOUS_NIGHT_WAIT and
    RECON_PREVIOUS_NIGHT_POKE_INTERVAL (seconds), RECON_SHARDS and
    RECON_DEADLINE (UTC time of day a night must be published by, or off), with defaults."""
    flag = env.get("RECON_CATCHUP", "").strip().lower()
    if flag not in _FLAGS:
        raise ConfigError(f"RECON_CATCHUP={flag!r} is not a boolean (true/false)")
    start = parse_date(env.get("RECON_START_DATE") or DEFAULT_START_DATE, "RECON_START_DATE")
    end_raw = env.get("RECON_END_DATE", "").strip()
    end = parse_date(end_raw, "RECON_END_DATE") if end_raw else None
    if end is not None and end < start:
        raise ConfigError(f"RECON_END_DATE={end_raw!r} is before RECON_START_DATE {start}")
    return DagSettings(
        landing=env.get(ENV_LANDING, ""),
        catchup=_FLAGS[flag],
        start_date=_midnight(start),
        sensor_timeout=_seconds(env, "RECON_SENSOR_TIMEOUT", DEFAULT_SENSOR_TIMEOUT),
        poke_interval=_seconds(env, "RECON_SENSOR_POKE_INTERVAL", DEFAULT_POKE_INTERVAL),
        shards=_shards(env),
        # The run of business date E has the logical date E 02:00: the last one created.
        end_date=_midnight(end).replace(hour=2) if end else None,
        deadline=_deadline(env),
        previous_night_wait=_seconds(env, "RECON_PREVIOUS_NIGHT_WAIT", DEFAULT_PREVIOUS_NIGHT_WAIT),
        previous_night_poke=_seconds(
            env, "RECON_PREVIOUS_NIGHT_POKE_INTERVAL", DEFAULT_PREVIOUS_NIGHT_POKE
        ),
    )


# -- the triage desk (recon serve) and scripts acting for an account ------------------------

ENV_TOKEN = "RECON_TOKEN"


def api_token(env: Mapping[str, str] = os.environ) -> str | None:
    """RECON_TOKEN: the bearer token a command-line change is made with, if any."""
    return env.get(ENV_TOKEN, "").strip() or None


def parse_sla(text: str | None) -> dict[str, int]:
    """'critical=1,high=3' over the defaults: whole days >= 0 per severity."""
    sla = dict(DEFAULT_SLA_DAYS)
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        severity, _, days = part.partition("=")
        severity = severity.strip()
        if severity not in SEVERITY_ORDER or not days.strip().isdigit():
            raise ConfigError(f"RECON_SLA_DAYS: bad entry {part!r}, expected SEVERITY=DAYS")
        sla[severity] = int(days)
    return sla


def parse_networks(text: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """'127.0.0.1, 10.0.0.0/8' as networks (a bare address is a /32 or /128)."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    try:
        return tuple(ipaddress.ip_network(p, strict=False) for p in parts)
    except ValueError as exc:
        raise ConfigError(f"RECON_TRUSTED_PROXIES: {exc}") from None


def desk_settings(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The desk's settings (docs/desk.md): RECON_SECRET_KEY, RECON_SLA_DAYS,
    RECON_TRUSTED_USER_HEADER, RECON_TRUSTED_PROXIES, RECON_COOKIE_SECURE, RECON_SESSION_HOURS."""
    flag = env.get("RECON_COOKIE_SECURE", "").strip().lower()
    if flag not in _FLAGS:
        raise ConfigError(f"RECON_COOKIE_SECURE={flag!r} is not a yes/no flag")
    hours = env.get("RECON_SESSION_HOURS", "12").strip()
    if not hours.isdigit() or int(hours) < 1:
        raise ConfigError(f"RECON_SESSION_HOURS={hours!r} is not a whole number of hours")
    return {
        "secret_key": env.get("RECON_SECRET_KEY", "").strip() or None,
        "sla_days": parse_sla(env.get("RECON_SLA_DAYS")),
        "trusted_user_header": env.get("RECON_TRUSTED_USER_HEADER", "").strip() or None,
        "trusted_proxies": parse_networks(env.get("RECON_TRUSTED_PROXIES")),
        "cookie_secure": _FLAGS[flag],
        "session_hours": int(hours),
    }


def desk_url(env: Mapping[str, str] = os.environ) -> str | None:
    """RECON_DESK_URL: where the triage desk is served, for the link in the Airflow UI."""
    return env.get("RECON_DESK_URL", "").strip() or None


# -- the night gate (contract section 1.0) and the warehouse lock (section 4) ---------------


def parse_share(raw: str, what: str) -> Decimal:
    """A share of rows: '0.01' or '1%', from 0 to 1 inclusive; a ConfigError naming `what`."""
    text = raw.strip()
    try:
        share = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"{what}={raw!r} is not a share (0.01 or 1%)") from None
    if not share.is_finite() or not 0 <= share <= 1:
        raise ConfigError(f"{what}={raw!r} is not a share from 0 to 1 (or 0% to 100%)")
    return share


@dataclass(frozen=True)
class GateSettings:
    """What the night gate lets through: per source, the largest share of the rows read
    that may be quarantined; the smallest share of the previous snapshot's ICCIDs that
    tonight's must hold; whether a night may run without its predecessor."""

    quarantine_max: Mapping[str, Decimal] = field(
        default_factory=lambda: dict.fromkeys(SOURCES, DEFAULT_QUARANTINE_MAX)
    )
    inventory_min_share: Decimal = DEFAULT_INVENTORY_MIN_SHARE
    allow_gap: bool = False

    def summary(self) -> dict[str, object]:
        """How the run summary names the gate's settings."""
        return {
            "quarantine_max": {s: str(v) for s, v in self.quarantine_max.items()},
            "inventory_min_share": str(self.inventory_min_share),
            "allow_gap": self.allow_gap,
        }


def gate_settings(
    env: Mapping[str, str] = os.environ,
    quarantine_max: Sequence[str] = (),
    inventory_min_share: str | None = None,
    allow_gap: bool = False,
) -> GateSettings:
    """The gate's settings: defaults, then RECON_QUARANTINE_MAX (every source),
    RECON_QUARANTINE_MAX_<SOURCE> and RECON_INVENTORY_MIN_SHARE, then the command line's
    `quarantine_max` items ('SHARE' for every source or 'SOURCE=SHARE' for one) and
    `inventory_min_share`."""
    limits = dict.fromkeys(SOURCES, DEFAULT_QUARANTINE_MAX)
    if env.get(ENV_QUARANTINE_MAX, "").strip():
        limits = dict.fromkeys(SOURCES, parse_share(env[ENV_QUARANTINE_MAX], ENV_QUARANTINE_MAX))
    for source in SOURCES:
        name = f"{ENV_QUARANTINE_MAX}_{source.upper()}"
        if env.get(name, "").strip():
            limits[source] = parse_share(env[name], name)
    items = sorted(quarantine_max, key=lambda item: "=" in item)  # every source first
    for item in items:
        source, sep, raw = item.rpartition("=")
        if not sep:
            limits = dict.fromkeys(SOURCES, parse_share(raw, "--max-quarantine"))
        elif source in SOURCES:
            limits[source] = parse_share(raw, f"--max-quarantine {source}")
        else:
            raise ConfigError(
                f"--max-quarantine {item!r}: unknown source {source!r} "
                f"(one of {', '.join(SOURCES)})"
            )
    raw_min = inventory_min_share or env.get(ENV_INVENTORY_MIN_SHARE, "").strip()
    min_share = (
        parse_share(raw_min, ENV_INVENTORY_MIN_SHARE) if raw_min else DEFAULT_INVENTORY_MIN_SHARE
    )
    return GateSettings(limits, min_share, allow_gap)


def lock_wait(env: Mapping[str, str] = os.environ, seconds: float | None = None) -> float:
    """How long a run waits for another run's warehouse lock: `seconds`, else
    RECON_LOCK_WAIT, else 10 minutes; 0 fails at once."""
    if seconds is not None:
        if not math.isfinite(seconds) or seconds < 0:
            raise ConfigError(f"--lock-wait {seconds} must be 0 or more")
        return seconds
    return _seconds(env, ENV_LOCK_WAIT, DEFAULT_LOCK_WAIT, zero=True)


def quality_pages(env: Mapping[str, str] = os.environ) -> int:
    """How many nights keep their rendered data-quality pages (the newest ones; the
    validation results of every night are kept): RECON_QUALITY_PAGES, else 90."""
    raw = env.get(ENV_QUALITY_PAGES, "").strip()
    if not raw:
        return DEFAULT_QUALITY_PAGES
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{ENV_QUALITY_PAGES}={raw!r} is not a number of nights (1 or more)")
    return int(raw)
