"""`generate()`: simulate the world day by day and write the landing zone and ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from .activity import Activity
from .billing import bill_runs, final_credits
from .ground_truth import write_ground_truth
from .landing import Landing
from .letters import organic_letters
from .plants import plant_all
from .world import World

MIN_CUSTOMERS, MIN_DAYS = 50, 70
DAILY_SOURCES = ("store_transactions", "billing_lines", "retention_campaigns")
ORGANIC_BILL_DAYS = (1, 8, 15, 22)


@dataclass
class GenerationResult:
    business_dates: list[date]
    ground_truth_path: Path
    rows: dict[str, int]


def generate(
    out: str | Path,
    seed: int,
    customers: int,
    start: date,
    days: int,
) -> GenerationResult:
    """Write a synthetic landing zone for `days` business dates from `start`, and
    `_ground_truth.json`, the cases the engine must find on the last of them.

    `customers` counts every customer, the planted ones included. The same arguments
    give the same bytes. The four source folders under `out` are replaced.
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
        landing.write(
            "sim_inventory",
            day,
            [sim.row() for sim in world.inventory],
            parts=2 if day == last else 1,
        )
    truth = root / "_ground_truth.json"
    write_ground_truth(truth, last, kit.cases())
    return GenerationResult(dates, truth, dict(landing.rows))
