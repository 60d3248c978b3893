"""A night that can be trusted (issue 8): each row of its table, from a clean night.

A generated world is run up to the night before a bill-run night N (the `generated_world`
fixture); each test takes a copy of that warehouse and landing zone, does to night N (or
the next) what the row says, and checks the exit code, what was published and the case
store against a clean run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipelines.night import night_processed
from pipelines.settings import default_db_url
from pipelines.storage import LocalStorage
from tests.support.nights import (
    GeneratedWorld,
    copy,
    curated,
    edit,
    published,
    run,
    store_state,
)

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class World:
    landing: Path
    base: Path  # processed through the night before `night`
    clean: dict[date, Path]  # the base brought, cleanly, through each later night
    night: date  # a bill-run night

    def copy(self, tmp: Path) -> tuple[Path, Path]:
        """A landing zone and a warehouse of the test's own."""
        return copy(self.landing, tmp / "landing"), copy(self.base, tmp / "warehouse")


@pytest.fixture(scope="module")
def world(generated_world: GeneratedWorld, tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("trust")
    night, landing = generated_world.night, generated_world.landing
    clean, previous = {}, generated_world.base
    for day in (night, night + timedelta(days=1)):
        clean[day] = copy(previous, root / f"clean-{day}")
        assert run(landing, clean[day], day).exit_code == 0
        previous = clean[day]
    return World(landing, generated_world.base, clean, night)


def same_as(warehouse: Path, clean: Path, day: date, replaced: bool = False) -> None:
    """The night's published files and the case store equal the clean run's; after a rerun
    that `replaced` an earlier run's work, but for the history of it and the count of
    cases it withdrew."""
    files, want_files = published(warehouse, day), published(clean, day)
    if replaced:
        for doc in (files["summary.json"], want_files["summary.json"]):
            for counts in (doc["cases"], *doc["rules"].values()):  # type: ignore[index]
                counts.pop("withdrawn")
    assert files == want_files
    got, want = store_state(warehouse), store_state(clean)
    keys = ("cases", "sightings") if replaced else ("cases", "sightings", "history")
    for key in keys:
        assert got[key] == want[key], key


def untouched(warehouse: Path, before: Path, day: date) -> None:
    """Nothing of night `day` was published, recorded or curated."""
    assert published(warehouse, day) == published(before, day)
    assert store_state(warehouse) == store_state(before)
    assert curated(warehouse, day) == curated(before, day)


def test_a_header_only_inventory_is_refused(world: World, tmp_path: Path) -> None:
    landing, warehouse = world.copy(tmp_path)
    edit(landing, "sim_inventory", world.night, lambda rows: [])
    result = run(landing, warehouse, world.night)
    assert result.exit_code == 2, result.output
    assert "sim_inventory: the snapshot is empty (the " in result.output
    untouched(warehouse, world.base, world.night)
    assert run(world.landing, warehouse, world.night).exit_code == 0  # the true extract
    same_as(warehouse, world.clean[world.night], world.night)


def test_an_inventory_that_lost_sims_is_refused_and_the_share_can_be_set(
    world: World, tmp_path: Path
) -> None:
    landing, warehouse = world.copy(tmp_path)
    edit(landing, "sim_inventory", world.night, lambda rows: rows[: len(rows) * 9 // 10])
    result = run(landing, warehouse, world.night)
    assert result.exit_code == 2
    assert "ICCIDs of the" in result.output and "at least 98.00% needed" in result.output
    untouched(warehouse, world.base, world.night)
    assert run(landing, warehouse, world.night, "--inventory-min-share", "85%").exit_code == 0


def test_a_third_of_billing_amounts_unreadable_is_refused_and_said_on_the_console(
    world: World, tmp_path: Path
) -> None:
    landing, warehouse = world.copy(tmp_path)

    def garble(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [r | {"amount": "n/a"} if i % 10 < 3 else r for i, r in enumerate(rows)]

    edit(landing, "billing_lines", world.night, garble)
    result = run(landing, warehouse, world.night)
    assert result.exit_code == 2
    (line,) = [x for x in result.output.splitlines() if " billing_lines " in x]
    share = re.search(r"quarantined +\d+ \(([0-9.]+)%, max 1.00%\)  REFUSED", line)
    assert share and float(share.group(1)) >= 30, line
    assert all(f" {s} " in result.output for s in ("sim_inventory", "store_transactions"))
    untouched(warehouse, world.base, world.night)


def test_a_missing_recurring_line_then_the_true_extract_withdraws_the_phantom(
    world: World, tmp_path: Path
) -> None:
    landing, warehouse = world.copy(tmp_path)
    lost: dict[str, str] = {}

    def drop_one(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        recurring = [r for r in rows if r["charge_type"] == "recurring" and r["iccid"]]
        per_invoice = {r["invoice_id"]: 0 for r in recurring}
        for r in recurring:
            per_invoice[r["invoice_id"]] += 1
        victim = next(r for r in recurring if per_invoice[r["invoice_id"]] > 1)
        lost.update(victim)
        return [r for r in rows if r is not victim]

    edit(landing, "billing_lines", world.night, drop_one)
    assert run(landing, warehouse, world.night).exit_code == 0
    phantoms = [
        c
        for c in store_state(warehouse)["cases"].values()  # type: ignore[union-attr]
        if c["rule_id"] == "UNBILLED_ACTIVE_LINE" and c["iccid"] == lost["iccid"]
    ]
    assert len(phantoms) == 1
    rerun = run(world.landing, warehouse, world.night)  # the true extract
    assert rerun.exit_code == 0
    same_as(warehouse, world.clean[world.night], world.night, replaced=True)
    summary = json.loads(
        (warehouse / f"cases/business_date={world.night}/summary.json").read_text()
    )
    assert summary["cases"]["withdrawn"] == 1


def test_a_night_whose_predecessor_never_ran_is_refused_unless_the_gap_is_allowed(
    world: World, tmp_path: Path
) -> None:
    landing, warehouse = world.copy(tmp_path)
    after = world.night + timedelta(days=1)
    result = run(landing, warehouse, after)
    assert result.exit_code == 2
    assert f"the previous night {world.night} is not processed in this warehouse" in result.output
    untouched(warehouse, world.base, after)
    allowed = run(landing, warehouse, after, "--allow-gap")
    assert allowed.exit_code == 0, allowed.output
    gate = json.loads((warehouse / f"cases/business_date={after}/summary.json").read_text())["gate"]
    assert gate["allow_gap"] is True
    assert gate["predecessor"]["gap_allowed"] is True
    assert gate["predecessor"]["why"] == "it is not published"


def test_two_runs_of_one_night_never_interleave(world: World, tmp_path: Path) -> None:
    landing, warehouse = world.copy(tmp_path)

    def start(*extra: str) -> subprocess.Popen[str]:
        args = ["run", "--landing", landing, "--warehouse", warehouse, "--no-validate"]
        args += ["--business-date", world.night, *extra]
        return subprocess.Popen(
            [str(BIN / "recon"), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    both = [start(), start()]
    for proc in both:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    same_as(warehouse, world.clean[world.night], world.night)
    with LocalStorage(warehouse).lock("_recon.lock", "a run that takes its time", 0):
        impatient, patient = start("--lock-wait", "0"), start("--lock-wait", "120")
        out, _ = impatient.communicate(timeout=120)
        assert impatient.returncode == 1, out
        assert "is locked by another recon run (a run that takes its time by " in out
        assert "gave up after waiting 0s" in out
        time.sleep(1)
        assert patient.poll() is None  # still waiting
    out, _ = patient.communicate(timeout=300)
    assert patient.returncode == 0, out
    same_as(warehouse, world.clean[world.night], world.night)


def test_a_commit_cut_short_is_finished_and_the_night_must_be_run_again(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up after two of the four sources were put in place."""
    landing, warehouse = world.copy(tmp_path)
    placed = []
    replace = LocalStorage.replace_prefix

    def full_disk(self: LocalStorage, prefix: str, files: dict[str, bytes]) -> None:
        if prefix.startswith("curated/") and len(placed) == 2:
            raise OSError(28, "No space left on device")
        placed.extend([prefix] if prefix.startswith("curated/") else [])
        replace(self, prefix, files)

    with monkeypatch.context() as patched:
        patched.setattr(LocalStorage, "replace_prefix", full_disk)
        result = run(landing, warehouse, world.night)
    assert result.exit_code == 1
    assert "No space left on device" in result.output
    assert len({p.split("/")[1] for p in curated(warehouse, world.night)}) == 2
    after = world.night + timedelta(days=1)
    refused = run(landing, warehouse, after)  # finishes the commit first, then refuses
    assert refused.exit_code == 2
    assert len({p.split("/")[1] for p in curated(warehouse, world.night)}) == 4
    assert run(landing, warehouse, world.night).exit_code == 0
    same_as(warehouse, world.clean[world.night], world.night)


def test_a_failure_between_the_case_store_and_publishing_is_healed_by_the_rerun(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing, warehouse = world.copy(tmp_path)
    with monkeypatch.context() as patched:
        patched.setattr("pipelines.night.publish_night", _boom)
        assert run(landing, warehouse, world.night).exit_code == 1
    db = default_db_url(str(warehouse))
    assert night_processed(LocalStorage(warehouse), db, world.night) == "it is not published"
    after = world.night + timedelta(days=1)
    assert run(landing, warehouse, after).exit_code == 2
    assert run(landing, warehouse, world.night).exit_code == 0
    assert night_processed(LocalStorage(warehouse), db, world.night) is None
    same_as(warehouse, world.clean[world.night], world.night)


def _boom(*_args: object) -> None:
    raise OSError("the publish target went away")


@pytest.mark.slow
def test_a_critical_expectation_leaves_the_published_night_as_it_was(
    world: World, tmp_path: Path
) -> None:
    """A night published, then rerun on an extract that GX stops: its curated partitions,
    its published files and the case store stay as they were, and still agree; a later
    rerun without validation does not publish the stopped run's verdict."""
    landing, _ = world.copy(tmp_path)
    warehouse = copy(world.clean[world.night], tmp_path / "published")

    def pounds(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [r | {"currency": "pounds"} if i % 20 == 0 else r for i, r in enumerate(rows)]

    edit(landing, "billing_lines", world.night, pounds)
    past_gate = ("--max-quarantine", "billing_lines=10%")
    result = run(landing, warehouse, world.night, *past_gate, validate=True)
    assert result.exit_code == 2, result.output
    assert "expect_column_values_to_be_in_set on currency (critical" in result.output
    untouched(warehouse, world.clean[world.night], world.night)
    db = default_db_url(str(warehouse))
    assert night_processed(LocalStorage(warehouse), db, world.night) is None
    verdict = warehouse / f"quality/billing_lines/business_date={world.night}/summary.json"
    assert json.loads(verdict.read_text())["success"] is False  # kept for the auditors
    assert run(world.landing, warehouse, world.night).exit_code == 0
    summary = json.loads(
        (warehouse / f"cases/business_date={world.night}/summary.json").read_text()
    )
    assert summary["quality"] == {"validated": False, "why": "run with --no-validate"}


def test_thresholds_come_from_the_environment_too(world: World, tmp_path: Path) -> None:
    landing, warehouse = world.copy(tmp_path)
    edit(
        landing,
        "billing_lines",
        world.night,
        lambda rows: [r | {"amount": "n/a"} if i < 2 else r for i, r in enumerate(rows)],
    )
    assert run(landing, warehouse, world.night).exit_code == 2
    os.environ["RECON_QUARANTINE_MAX_BILLING_LINES"] = "0.5"
    try:
        result = run(landing, warehouse, world.night)
    finally:
        del os.environ["RECON_QUARANTINE_MAX_BILLING_LINES"]
    assert result.exit_code == 0, result.output
    summary = json.loads(
        (warehouse / f"cases/business_date={world.night}/summary.json").read_text()
    )
    assert summary["gate"]["quarantine_max"]["billing_lines"] == "0.5"
    assert summary["gate"]["quarantine_max"]["sim_inventory"] == "0.01"
