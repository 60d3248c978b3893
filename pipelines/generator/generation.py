"""`generate()`: simulate the world day by day and write the landing zone and ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from .activity import Activity
from .billing import bill_runs, final_credits
from .ground_truth import write_ground_truth
from .identifiers import luhn_check_digit
from .landing import Landing
from .letters import organic_letters
from .plants import plant_all
from .world import World

MIN_CUSTOMERS, MIN_DAYS = 50, 70
DAILY_SOURCES = ("store_transactions", "billing_lines", "retention_campaigns")
ORGANIC_BILL_DAYS = (1, 8, 15, 22)
MAX_BAD_ROWS = 3


@dataclass
class GenerationResult:
    business_dates: list[date]
    ground_truth_path: Path
    rows: dict[str, int]
    # With `bad_rows`: the night whose inventory snapshot holds rows to quarantine, and
    # how many.
    bad_rows_night: date | None = None
    bad_rows: int = 0


def generate(
    out: str | Path,
    seed: int,
    customers: int,
    start: date,
    days: int,
    bad_rows: bool = False,
) -> GenerationResult:
    """Write a synthetic landing zone for `days` business dates from `start`, and
    `_ground_truth.json`, the cases the engine must find on the last of them.

    `customers` counts every customer, the planted ones included. The same arguments
    give the same bytes. The four source folders under `out` are replaced.

    `bad_rows` adds to the inventory snapshot of the middle night a few rows that ingest
    quarantines (an ICCID whose Luhn check digit is wrong), under 1 % of its rows, so the
    night passes the gate and its report shows them (`recon demo`).
    """
    if customers < MIN_CUSTOMERS:
        raise ValueError(f"customers must be at least {MIN_CUSTOMERS} (the plants need room)")
    if days < MIN_DAYS:
        raise ValueError(f"days must be at least {MIN_DAYS} (the rules look back 60 days)")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    last = start + timedelta(days=days - 1)
    world = World(seed, start, last, customers)
    # The last night is a bill day of some organic accounts.
    bill_days = sorted({*ORGANIC_BILL_DAYS, last.day})
    kit = plant_all(world, bill_days)
    organic = Activity(world, customers - len(world.customers), bill_days)
    landing = Landing(root)
    dates = [start + timedelta(days=n) for n in range(days)]
    bad_night = dates[days // 2] if bad_rows else None
    bad_count = 0
    for day in dates:
        world.begin_day(day)
        organic.run_day()
        world.run_hooks("events")
        final_credits(world)
        bill_runs(world)
        world.run_hooks("billing")
        organic_letters(world)
        world.run_hooks("letters")
        for source in DAILY_SOURCES:
            landing.write(source, day, world.rows[source])
        # The last snapshot comes in two parts, so readers meet a multi-part partition.
        snapshot = [sim.row() for sim in world.inventory]
        if day == bad_night:
            bad_count = min(MAX_BAD_ROWS, len(snapshot) // 100)
            snapshot += [_bad_inventory_row(day, n) for n in range(bad_count)]
        landing.write("sim_inventory", day, snapshot, parts=2 if day == last else 1)
    truth = root / "_ground_truth.json"
    write_ground_truth(truth, last, kit.cases())
    return GenerationResult(
        dates, truth, dict(landing.rows), bad_night if bad_count else None, bad_count
    )


def _bad_inventory_row(day: date, n: int) -> tuple[str | None, ...]:
    """An in-stock SIM whose ICCID fails its Luhn check: ingest quarantines it."""
    payload = f"89442099{n:010d}"
    wrong = str((int(luhn_check_digit(payload)) + 1) % 10)
    changed = f"{day.isoformat()}T06:00:00Z"
    return (payload + wrong, None, None, None, "voice", "in_stock", None, None, changed)
