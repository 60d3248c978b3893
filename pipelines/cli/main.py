"""The `recon` command line (contract section 4, plus generate, demo and case triage)."""

from __future__ import annotations

import functools
import logging
import shutil
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import click

from pipelines.cli.cases import cases
from pipelines.cli.db import db
from pipelines.cli.demo_story import people_work, story
from pipelines.cli.kpis import kpis
from pipelines.cli.letters import letters
from pipelines.cli.serve import serve
from pipelines.cli.tables import aligned
from pipelines.cli.users import users
from pipelines.ingest import RejectedPartition
from pipelines.night import BadInput, NightResult, backfill, run_night
from pipelines.publish import money_by_kind_text
from pipelines.quality import CriticalExpectationFailed, NightValidation, check_night
from pipelines.redact import describe
from pipelines.settings import ConfigError, GateSettings, gate_settings
from pipelines.storage import open_storage
from pipelines.storage.lock import LockBusy

T = TypeVar("T")
EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1
DEMO_MARKER = ".recon-demo"


def _date(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from exc


def _guarded(action: Callable[[], T]) -> T:
    """Run a command body, mapping failures to the contract's exit codes."""
    try:
        return action()
    except BadInput as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.ClickException:
        raise
    except (LockBusy, ConfigError) as exc:  # says all there is to say
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except Exception as exc:  # any other failure: exit 1 with the reason, not a traceback
        logging.getLogger("recon").debug("failure", exc_info=True)
        click.echo(f"error: {describe(exc)}", err=True)
        sys.exit(EXIT_FAILURE)


def _progress(i: int, n: int, result: NightResult, seconds: float) -> None:
    c = result.summary["cases"]
    click.echo(
        f"[{i:>{len(str(n))}}/{n}] {result.business_date}  cases {c['published']:>5}  "
        f"new {c['new']:>4}  closed {c['closed']:>4}  {seconds:6.2f}s",
        err=True,
    )


landing_opt = click.option("--landing", required=True, help="Landing root: folder or s3:// prefix.")
warehouse_opt = click.option(
    "--warehouse", required=True, help="Warehouse root: folder or s3:// prefix."
)
shards_opt = click.option(
    "--shards",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Reconcile in N customer shards, one after another "
    "(bounds memory; the DAG runs them in parallel).",
)
validate_opt = click.option(
    "--validate/--no-validate",
    default=True,
    show_default=True,
    help="Run the data-quality suites on the checked inputs; a critical failure stops the "
    "night (exit 2). --no-validate is for backfills of trusted history; the summary says so.",
)


def gate_options(command: Callable[..., None]) -> Callable[..., None]:
    """The night gate's options (contract section 1.0) and the lock's wait; the command
    gets `gate` (GateSettings) and `lock_wait` instead."""

    @click.option(
        "--max-quarantine",
        "max_quarantine",
        multiple=True,
        metavar="[SOURCE=]SHARE",
        help="Most rows a source may quarantine, as a share of the rows read (0.01 or 1%); "
        "SHARE alone sets every source. Repeatable. [env RECON_QUARANTINE_MAX, "
        "RECON_QUARANTINE_MAX_<SOURCE>; default 1%]",
    )
    @click.option(
        "--inventory-min-share",
        metavar="SHARE",
        help="Least share of the previous snapshot's ICCIDs the night's sim_inventory must "
        "hold. [env RECON_INVENTORY_MIN_SHARE; default 98%]",
    )
    @click.option(
        "--allow-gap",
        is_flag=True,
        help="Run even though the previous business date was not processed in this "
        "warehouse (the summary says so).",
    )
    @click.option(
        "--lock-wait",
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        help="How long to wait for another run of this warehouse to finish before failing. "
        "[env RECON_LOCK_WAIT; default 600]",
    )
    @functools.wraps(command)
    def wrapper(
        max_quarantine: tuple[str, ...],
        inventory_min_share: str | None,
        allow_gap: bool,
        lock_wait: float | None,
        **kwargs: object,
    ) -> None:
        try:
            gate = gate_settings(
                quarantine_max=max_quarantine,
                inventory_min_share=inventory_min_share,
                allow_gap=allow_gap,
            )
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
        command(gate=gate, lock_wait=lock_wait, **kwargs)

    return wrapper


def _report(line: str) -> None:
    click.echo(line, err=True)


db_opt = click.option(
    "--db",
    "db_url",
    default=None,
    help="Case store SQLAlchemy URL [env RECON_DB_URL; default: SQLite in the warehouse].",
)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def main(verbose: bool) -> None:
    """recon: nightly billing-versus-CRM reconciliation."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@landing_opt
@warehouse_opt
@click.option("--business-date", required=True, callback=_date)
@db_opt
@shards_opt
@validate_opt
@gate_options
def run(
    landing: str,
    warehouse: str,
    business_date: date,
    db_url: str | None,
    shards: int,
    validate: bool,
    gate: GateSettings,
    lock_wait: float | None,
) -> None:
    """Process one night: ingest, judge, evaluate every rule, update cases, publish."""
    result = _guarded(
        lambda: run_night(
            landing,
            warehouse,
            business_date,
            db_url,
            shards,
            validate,
            gate=gate,
            lock_wait=lock_wait,
            report=_report,
        )
    )
    c = result.summary["cases"]
    click.echo(
        f"{business_date}: {c['published']} cases ({c['new']} new, {c['closed']} closed); "
        f"report: {result.report_uri}"
    )


@main.command("backfill")
@landing_opt
@warehouse_opt
@click.option("--start", required=True, callback=_date)
@click.option("--end", required=True, callback=_date)
@db_opt
@shards_opt
@validate_opt
@gate_options
def backfill_cmd(
    landing: str,
    warehouse: str,
    start: date,
    end: date,
    db_url: str | None,
    shards: int,
    validate: bool,
    gate: GateSettings,
    lock_wait: float | None,
) -> None:
    """Run the nights from --start to --end in order (one lock for all of them)."""
    results = _guarded(
        lambda: backfill(
            landing,
            warehouse,
            start,
            end,
            db_url,
            _progress,
            shards,
            validate,
            gate=gate,
            lock_wait=lock_wait,
            report=_report,
        )
    )
    click.echo(f"{len(results)} nights processed; last report: {results[-1].report_uri}")


@main.command("validate")
@landing_opt
@warehouse_opt
@click.option("--business-date", required=True, callback=_date)
def validate_cmd(landing: str, warehouse: str, business_date: date) -> None:
    """Run the data-quality suites on a night's ingested partitions (exit 2 if one fails)."""

    def checked() -> NightValidation:
        try:
            return check_night(open_storage(landing), open_storage(warehouse), business_date)
        except RejectedPartition as exc:
            raise BadInput(business_date, [exc]) from exc

    night = _guarded(checked)
    click.echo(_quality_table(night))
    click.echo(f"\ndata-quality pages: {night.pages}")
    if not night.success:
        failed = CriticalExpectationFailed(list(night.outcomes.values()))
        click.echo(f"error: business date {business_date}: {failed}", err=True)
        sys.exit(EXIT_BAD_INPUT)


def _quality_table(night: NightValidation) -> str:
    lines = []
    for source, outcome in night.outcomes.items():
        s = outcome.statistics
        verdict = "passed" if outcome.success else "FAILED"
        lines.append(
            f"{source} {night.business_date}: {verdict}, {s['failed']} of {s['expectations']} "
            f"expectations failed; rows: {s['manifest_rows']} in the manifest, "
            f"{s['rows_loaded']} loaded, {s['rows_quarantined']} quarantined"
        )
        rows = [("result", "severity", "expectation", "target", "observed")]
        rows += [
            ("pass" if c.success else "FAIL", c.severity, c.expectation, c.target, c.observed)
            for c in outcome.checks
        ]
        lines += [f"  {line}" for line in aligned(rows)]
        lines.append("")
    return "\n".join(lines).rstrip()


@main.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--customers", default=400, show_default=True, type=click.IntRange(1))
@click.option("--start", "start", default="2024-01-01", show_default=True, callback=_date)
@click.option("--days", default=120, show_default=True, type=click.IntRange(1))
def generate(out: Path, seed: int, customers: int, start: date, days: int) -> None:
    """Write a synthetic landing zone with planted discrepancies and their ground truth."""
    from pipelines.generator import generate as generate_landing

    result = _guarded(lambda: generate_landing(out, seed, customers, start, days))
    click.echo(
        f"{len(result.business_dates)} business dates written to {out}; "
        f"ground truth: {result.ground_truth_path}"
    )


@main.command()
@click.option(
    "--out", default="demo", show_default=True, type=click.Path(file_okay=False, path_type=Path)
)
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--customers", default=400, show_default=True, type=click.IntRange(1))
@click.option("--days", default=120, show_default=True, type=click.IntRange(1))
@click.option(
    "--fresh",
    is_flag=True,
    help="Replace an earlier demo even if people have worked in it: triaged its cases or "
    "added desk accounts (their work is lost).",
)
@validate_opt
@gate_options
def demo(
    out: Path,
    seed: int,
    customers: int,
    days: int,
    fresh: bool,
    validate: bool,
    gate: GateSettings,
    lock_wait: float | None,
) -> None:
    """Generate a sample landing zone, backfill it, and show the last night's cases and
    where to see every part of the product."""
    from pipelines.generator import generate as generate_landing

    if out.exists():
        if not (out / DEMO_MARKER).exists():
            raise click.ClickException(f"{out} exists and is not a recon demo folder")
        work = _guarded(lambda: people_work(out / "warehouse"))
        if work and not fresh:
            raise click.ClickException(
                f"{out / 'warehouse'} holds what people made: {' and '.join(work)}; a new "
                "demo would wipe it. Keep working on it, or run `recon demo --fresh` to "
                "replace it."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / DEMO_MARKER).write_text("created by recon demo; safe to delete\n")
    landing, warehouse = out / "landing", out / "warehouse"
    start = date(2024, 1, 1)
    click.echo(f"generating {customers} customers over {days} days into {landing} ...", err=True)
    t0 = datetime.now()
    generated = _guarded(
        lambda: generate_landing(landing, seed, customers, start, days, bad_rows=True)
    )
    dates = generated.business_dates
    results = _guarded(
        lambda: backfill(
            str(landing),
            str(warehouse),
            dates[0],
            dates[-1],
            None,
            _progress,
            validate=validate,
            gate=gate,
            lock_wait=lock_wait,
            report=_report,
        )
    )
    last = results[-1]
    click.echo("")
    click.echo(_summary_table(last.summary))
    click.echo(f"\n{len(results)} nights in {(datetime.now() - t0).total_seconds():.1f}s")
    click.echo(f"report:   {last.report_uri}")
    click.echo(f"cases:    {warehouse}/cases/business_date={last.business_date}/cases.csv")
    click.echo(f"triage:   recon cases list --warehouse {warehouse}")
    click.echo("")
    for line in _guarded(lambda: story(warehouse, results)):
        click.echo(line)


def _summary_table(summary: dict) -> str:
    rows = [("rule", "found", "new", "still open", "closed", "amount")]
    for rule_id, r in summary["rules"].items():
        money = money_by_kind_text(r["amount_by_kind"], r["not_priced"])
        rows.append(
            (rule_id, str(r["found"]), str(r["new"]), str(r["still_open"]), str(r["closed"]), money)
        )
    right = range(1, len(rows[0]))
    return "\n".join([f"Cases on {summary['business_date']}", *aligned(rows, right)])


main.add_command(cases)
main.add_command(users)
main.add_command(serve)
main.add_command(db)
main.add_command(letters)
main.add_command(kpis)
