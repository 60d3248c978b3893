"""`recon kpis`: the month's revenue-assurance KPIs (docs/kpis.md) as a table, JSON or CSV."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import click

from pipelines.cli.tables import aligned
from pipelines.csv_safe import csv_bytes
from pipelines.kpis import monthly_kpis

CSV_COLUMNS = ("section", "rule_id", "amount_kind", "currency", "metric", "value")
MONEY_SECTIONS = {
    "detected": ("cases", "not_priced", "amount", "recovered_since", "percent_recovered"),
    "recovered": ("cases", "amount"),
}


def flat(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The KPIs as one row per figure: section, rule, kind, currency, metric, value."""
    for section, metrics in MONEY_SECTIONS.items():
        for row in doc[section]:
            keys = {k: row[k] for k in ("rule_id", "amount_kind", "currency")}
            for metric in metrics:
                yield {"section": section, **keys, "metric": metric, "value": row[metric]}
            for method, amount in row.get("by_method", {}).items():
                yield {"section": section, **keys, "metric": f"by_{method}", "value": amount}
    for row in doc["days_per_recovery_case"]:
        for metric in ("cases", "median", "mean"):
            yield {
                "section": "days_per_recovery_case",
                "rule_id": row["rule_id"],
                "amount_kind": row["amount_kind"],
                "metric": metric,
                "value": row[metric],
            }
    for rule_id, buckets in doc["open_by_age"].items():
        for bucket, n in buckets.items():
            yield {"section": "open_by_age", "rule_id": rule_id, "metric": bucket, "value": n}
    for rule_id, n in doc["past_due"].items():
        yield {"section": "past_due", "rule_id": rule_id, "metric": "cases", "value": n}
    held = doc["letters_held"]
    yield {"section": "letters_held", "metric": "letters", "value": held["letters"]}
    for currency, amount in held["monthly_fees_protected"].items():
        yield {
            "section": "letters_held",
            "currency": currency,
            "metric": "monthly_fees_protected",
            "value": amount,
        }
    for source, q in doc["quarantined"].items():
        for metric in ("rows_read", "rows_quarantined", "percent_quarantined"):
            yield {
                "section": "quarantined",
                "rule_id": source,
                "metric": metric,
                "value": q[metric],
            }


def table(doc: dict[str, Any]) -> str:
    """The figures as aligned text, one line each."""
    rows = [[str(r.get(c) if r.get(c) is not None else "") for c in CSV_COLUMNS] for r in flat(doc)]
    rows.insert(0, list(CSV_COLUMNS))
    period = doc["period"]
    head = f"KPIs {period['from']}..{period['to']} (ages to {period['as_of']})"
    return "\n".join([head, *aligned(rows)])


@click.command("kpis")
@click.option("--month", metavar="YYYY-MM", help="Calendar month [default: the latest night's].")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--warehouse", required=True, help="Warehouse root: folder or s3:// prefix.")
@click.option("--db", "db_url", help="SQLAlchemy URL of the case store [env RECON_DB_URL].")
def kpis(month: str | None, fmt: str, warehouse: str, db_url: str | None) -> None:
    """Revenue-assurance KPIs of a month, per rule, amount kind and currency (docs/kpis.md)."""
    try:
        doc = monthly_kpis(warehouse, month, db_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from exc
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif fmt == "csv":
        click.echo(csv_bytes(CSV_COLUMNS, flat(doc)).decode("utf-8"), nl=False)
    else:
        click.echo(table(doc))
