"""Jinja2 templates (autoescaped) and the filters the pages use to show values."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates

from pipelines.casestore.queue import DUE_CHOICES, OWNER_KEYWORDS, QueueFilter
from pipelines.casestore.schema import PERSON_RECOVERY_METHODS
from pipelines.casestore.triage import CONTACT_CHANNELS
from pipelines.catalogue import (
    AMOUNT_KINDS,
    NOTE_REQUIRED_STATUSES,
    PERSON_STATUSES,
    RULE_SPECS,
    SEVERITY_ORDER,
    STATUSES,
)
from pipelines.web.csrf import csrf_token

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


def money(amount: Decimal | str | None, currency: str | None = None) -> str:
    """'12.50 GBP'; 'not priced' when there is no amount."""
    if amount is None:
        return "not priced"
    return f"{Decimal(amount):,.2f} {currency or ''}".strip()


def day(value: date | datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def label(code: str | None) -> str:
    """'false_positive' -> 'false positive'; rule ids keep their spelling."""
    if code is None:
        return ""
    return code if code.isupper() else code.replace("_", " ")


def pretty_json(text: str | None) -> str:
    try:
        return json.dumps(json.loads(text or ""), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return text or ""


def query(request: Request, **changes: Any) -> str:
    """The current query string with some parameters replaced (None removes them)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    for key, value in changes.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        params.extend((key, str(v)) for v in values)
    return urlencode(params)


templates.env.filters.update(money=money, day=day, label=label, pretty_json=pretty_json)
templates.env.globals.update(
    csrf_token=csrf_token,
    query=query,
    RULES=tuple(RULE_SPECS),
    SEVERITIES=tuple(SEVERITY_ORDER),
    STATUSES=STATUSES,
    PERSON_STATUSES=PERSON_STATUSES,
    NOTE_REQUIRED_STATUSES=NOTE_REQUIRED_STATUSES,
    AMOUNT_KINDS=AMOUNT_KINDS,
    OWNER_KEYWORDS=OWNER_KEYWORDS,
    DUE_CHOICES=DUE_CHOICES,
    CONTACT_CHANNELS=CONTACT_CHANNELS,
    RECOVERY_METHODS=PERSON_RECOVERY_METHODS,
    DEFAULT_FILTER=QueueFilter(),
)
