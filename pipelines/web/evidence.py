"""A case's evidence JSON as readable tables: one per kind of source row."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Section:
    """One part of the evidence: a table of rows, or a single value."""

    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    value: str | None = None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _table(title: str, items: list[dict[str, Any]]) -> Section:
    columns = list(dict.fromkeys(k for item in items for k in item))
    return Section(title, columns, [[_text(item.get(c)) for c in columns] for item in items])


def sections(evidence: str | None) -> list[Section]:
    """Evidence sections; unreadable JSON comes back as one raw value."""
    try:
        data = json.loads(evidence or "null")
    except ValueError:
        return [Section("evidence", value=evidence or "")]
    if not isinstance(data, dict):
        data = {"evidence": data}
    out: list[Section] = []
    for key, value in data.items():
        title = key.replace("_", " ")
        if isinstance(value, dict):
            out.append(_table(title, [value]))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out.append(_table(title, value))
        elif isinstance(value, list):
            out.append(Section(title, value=", ".join(_text(v) for v in value) or "none"))
        else:
            out.append(Section(title, value=_text(value)))
    return out
