"""Benchmark data: a curated history written directly, and the bill-run night as a landing zone.

The world of N customers: 1 to 4 lines each (2.5 on average, 70 % voice SIMs), 5 % billed in
EUR; `cycles` monthly bill cycles with bill days a week apart, the measured night (day 119,
2024-05-15) being the bill day of cycle 0, so it bills 1/cycles of the accounts. Over the 120
days: 8 % of lines are new, 40 % of the others renew, upgrade or downgrade, 4 % are cancelled
or ported out, 2 % swap their SIM (old SIM swapped out or lost), 5 % buy a handset; each bill
run charges every SIM of its accounts a full-period recurring line and its usage, plus handset
instalments and paper-bill fees; a line closed mid-period gets an off-cycle prorated credit.
1 % of SIMs are suspended, and 1 % more sit in stock.

Days 0..118 are written straight into the warehouse as curated partitions (billing_lines and
store_transactions, through `commit_partition`, so in exactly its format); the night as CSV
parts with manifests for all four sources, so the measured night includes real ingest.
`plants_per_rule` discrepancies of every rule and as many near misses sit on top, on disjoint
customers; the clean world raises no case, so the night's cases per rule equal the plants
(`_bench.json` holds the counts).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.contract import ACTIONS, SOURCE_SPECS
from pipelines.ingest.partition import LoadedPartition, commit_partition
from pipelines.storage import LocalStorage

PROFILES = {"100k": 100_000, "1m": 1_000_000, "5m": 5_000_000}
NIGHT = date(2024, 5, 15)
DAYS = 120
LAST = DAYS - 1  # the night's day index
WINDOW = LAST - 59  # first day of WRONG_DISCONNECT_LETTER's 60 days
START = NIGHT - timedelta(days=LAST)
NEVER = 30_000  # day index of an event that never happens
GHOST, NO_SIM = -(10**9), -2 * 10**9  # planted-line refs: ghost SIMs, account-level lines
PART_ROWS = 1_000_000
DAY_US = 86_400_000_000
START_US = (datetime(START.year, START.month, START.day) - datetime(1970, 1, 1)) // timedelta(
    microseconds=1
)
FORMAT_VERSION = 1

TARIFFS = (
    ("VOX-S-10", 1000),
    ("VOX-M-15", 1500),
    ("VOX-M-18", 1850),
    ("VOX-L-22", 2250),
    ("VOX-L-27", 2799),
    ("VOX-XL-35", 3500),
    ("VOX-XL-44", 4400),
    ("DAT-5GB", 500),
    ("DAT-20GB", 999),
    ("DAT-50GB", 1200),
    ("DAT-100GB", 1650),
    ("DAT-UNL", 2000),
)
VOICE_TARIFFS, DATA_TARIFFS = 7, 5
FEES = np.array([fee for _, fee in TARIFFS], dtype=np.int64)
HANDSETS = (
    ("Pixel 8, 128GB", 2499),
    ("iPhone 15, 128GB", 3650),
    ("Galaxy S24, 256GB", 3375),
    ("Fairphone 5", 2100),
)
CURRENCIES = ("GBP", "EUR")
CHANNELS = ("store", "online", "telesales", "social")
STATUSES = ("active", "suspended", "deactivated", "swapped_out", "lost_stolen", "in_stock")
CHARGE = ("recurring", "usage", "one_off", "credit")
# Description codes of billing lines: < len(TARIFFS) is "Monthly plan <tariff>".
USAGE_TEXT, PAPER_TEXT, CREDIT_TEXT, ACCESSORY_TEXT = range(len(TARIFFS), len(TARIFFS) + 4)
HANDSET_TEXT = ACCESSORY_TEXT + 1
DESCRIPTIONS = (
    *(f"Monthly plan {code}" for code, _ in TARIFFS),
    "Usage: calls, texts, data",
    "Paper bill fee",
    "Credit: line closed early",
    "Accessory: charger, cable",
    *(f"Handset instalment, {model}" for model, _ in HANDSETS),
)
LINE_COLUMNS = SOURCE_SPECS["billing_lines"].column_names
TX_COLUMNS = SOURCE_SPECS["store_transactions"].column_names


def run_days(bill_day: int) -> np.ndarray:
    """Day indices of a cycle's bill runs from two months before START to two after NIGHT."""
    days = []
    for months in range(-2, 9):
        index = START.month - 1 + months
        run = date(START.year + index // 12, index % 12 + 1, bill_day)
        days.append((run - START).days)
    return np.array(days, dtype=np.int64)


def luhn_digit(payload: np.ndarray, digits: int) -> np.ndarray:
    """Luhn check digit of integers of `digits` digits."""
    total = np.zeros(payload.shape, dtype=np.int64)
    rest = payload.copy()
    for position in range(digits):  # from the right: the first is doubled
        d = rest % 10
        rest //= 10
        total += np.where(position % 2 == 0, np.where(d > 4, d * 2 - 9, d * 2), d)
    return (-total) % 10


def iccids(serials: np.ndarray, issuer: int) -> pl.Series:
    """19-digit ICCIDs: 89, country 44, a 2-digit issuer, a 12-digit serial, Luhn digit."""
    payload = (8944 * 100 + issuer) * 10**12 + serials
    return pl.Series(payload * 10 + luhn_digit(payload, 18)).cast(pl.String)


def padded(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    return pl.select(
        pl.concat_str(pl.lit(prefix), pl.Series(numbers).cast(pl.String).str.zfill(width))
    ).to_series()


def timestamps(day: np.ndarray, sec: np.ndarray) -> pl.Series:
    """UTC timestamps of (day index, second of day); null where day is NEVER."""
    us = START_US + day.astype(np.int64) * DAY_US + sec.astype(np.int64) * 1_000_000
    ts = pl.Series(us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return ts.set(pl.Series(day >= NEVER), None) if (day >= NEVER).any() else ts


def dates(day: np.ndarray) -> pl.Series:
    return (
        (pl.Series(day.astype(np.int64)) + (START - date(1970, 1, 1)).days)
        .cast(pl.Int32)
        .cast(pl.Date)
    )


def money(cents: np.ndarray) -> pl.Series:
    return pl.Series(cents.astype(np.int64)).cast(pl.Decimal(18, 2)) / 100


class World:
    """Customers, lines (slots) and SIMs as numpy arrays, with the plants applied."""

    def __init__(self, customers: int, seed: int, cycles: int):
        rng = self.rng = np.random.default_rng(seed)
        n = self.n = customers
        self.bill_days = [(NIGHT.day - 1 + 7 * k) % 28 + 1 for k in range(cycles)]
        self.runs = [run_days(b) for b in self.bill_days]
        self.cycle = rng.integers(0, cycles, n)
        self.cur = (rng.random(n) < 0.05).astype(np.int64)
        self.paper = rng.random(n) < 0.10
        self.handset = np.where(rng.random(n) < 0.15, rng.integers(0, len(HANDSETS), n), -1)
        counts = rng.integers(1, 5, n)
        self.nslots = counts
        self.first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        s = self.slots = int(counts.sum())
        self.slot_cust = np.repeat(np.arange(n), counts)
        self.data = rng.random(s) < 0.3
        self.msisdn = 447_700_000_000 + np.cumsum(rng.integers(1, 4, s))
        new = self.new = rng.random(s) < 0.08
        self.act_day = np.where(new, rng.integers(0, DAYS, s), rng.integers(-1500, 0, s))
        self.act_sec = rng.integers(8 * 3600, 20 * 3600, s)
        self.fee0 = self._tariffs()
        self.fee1 = self._tariffs()
        self.chg_day = np.where(~new & (rng.random(s) < 0.4), rng.integers(0, DAYS, s), NEVER)
        self.chg_sec = rng.integers(8 * 3600, 20 * 3600, s)
        lo = np.maximum(self.act_day + 1, 0)
        churn = (rng.random(s) < 0.04) & (lo < DAYS)
        self.churn_day = np.where(churn, self._between(lo, DAYS), NEVER)
        self.port = rng.random(s) < 0.3  # churn by port_out rather than cancel_line
        self.churn_sec = rng.integers(20 * 3600, 23 * 3600, s)
        swap = ~churn & (rng.random(s) < 0.02) & (lo < DAYS)
        self.swap_day = np.where(swap, self._between(lo, DAYS), NEVER)
        self.lost = rng.random(s) < 0.2  # the swapped-out SIM was lost or stolen
        self.swap_sec = rng.integers(8 * 3600, 20 * 3600, s)
        self.hs_day = np.where(rng.random(s) < 0.05, self._between(lo, DAYS), NEVER)
        self.hs_sec = rng.integers(8 * 3600, 20 * 3600, s)
        self.suspended = rng.random(s) < 0.01
        self._actions_before_churn()
        # Plant controls, per slot.
        self.inv_override = np.zeros(s, dtype=np.int64)  # 1: inventory says active, 2: suspended
        self.credit_mode = np.zeros(s, dtype=np.int64)  # 1: withheld, 2: a cent short at most
        self.extra_bill_day = np.full(s, NEVER)
        self.omit_tonight = np.zeros(s, dtype=bool)
        self.tariff_day = np.full(s, NEVER)
        self.tariff_delta = np.zeros(s, dtype=np.int64)
        self.taken = np.zeros(n, dtype=bool)
        self.extra: list[dict[str, np.ndarray]] = []  # planted billing lines
        self.plants: dict[str, dict[str, int]] = {}
        self.in_stock = max(50, s // 100)
        self.ghosts = 0  # SIMs billed but never in the inventory

    # -- helpers -----------------------------------------------------------------------

    def _tariffs(self) -> np.ndarray:
        voice = self.rng.integers(0, VOICE_TARIFFS, self.slots)
        data = VOICE_TARIFFS + self.rng.integers(0, DATA_TARIFFS, self.slots)
        return np.where(self.data, data, voice)

    def _between(
        self,
        lo: np.ndarray | int,
        hi: np.ndarray | int,
        size: int | None = None,
    ) -> np.ndarray:
        """Random days in [lo, hi) (element-wise, lo < hi), `size` of them for scalar bounds."""
        if size is not None:
            lo, hi = np.full(size, lo), np.full(size, hi)
        lo, hi = np.broadcast_arrays(np.asarray(lo), np.asarray(hi))
        return lo + (self.rng.random(lo.shape) * (hi - lo)).astype(np.int64)

    def _runs(self, cycle: np.ndarray, day: np.ndarray, back: int) -> np.ndarray:
        out = np.empty(day.shape, dtype=np.int64)
        for k, runs in enumerate(self.runs):
            m = cycle == k
            out[m] = runs[np.searchsorted(runs, day[m], side="right") - back]
        return out

    def run_on_or_before(self, cycle: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self._runs(cycle, day, 1)

    def run_after(self, cycle: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self._runs(cycle, day, 0)

    def fee_idx(self, slot: np.ndarray, day: np.ndarray | int) -> np.ndarray:
        """The tariff a line is on at `day` (its contract change counts from its day)."""
        return np.where(self.chg_day[slot] <= day, self.fee1[slot], self.fee0[slot])

    def pick(self, k: int, eligible: np.ndarray) -> np.ndarray:
        """k random untaken customers among `eligible` (a mask); they are taken now."""
        pool = np.flatnonzero(eligible & ~self.taken)
        if len(pool) < k:
            raise ValueError(f"too few customers to plant on ({len(pool)} < {k})")
        chosen = np.sort(self.rng.choice(pool, k, replace=False))
        self.taken[chosen] = True
        return chosen

    def plain_first_slot(self) -> np.ndarray:
        """Per customer: the first line is old and neither churns nor swaps."""
        f = self.first
        return ~self.new[f] & (self.churn_day[f] == NEVER) & (self.swap_day[f] == NEVER)

    def force_churn(self, slot: np.ndarray, day: np.ndarray, port: bool | None = None) -> None:
        """The lines churn on `day`; their other actions are moved out of the way."""
        self.churn_day[slot] = day
        if port is not None:
            self.port[slot] = port
        self._actions_before_churn()

    def _actions_before_churn(self) -> None:
        """A churned line does nothing on or after its churn day (churn is its last action)."""
        self.chg_day = np.where(self.chg_day >= self.churn_day, NEVER, self.chg_day)
        self.hs_day = np.where(self.hs_day >= self.churn_day, NEVER, self.hs_day)

    def off_run_day(self, cust: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """A random day in [lo, hi] that is not a bill run of the customer's cycle."""
        day = self._between(lo, hi, len(cust))
        return day + (self.run_on_or_before(self.cycle[cust], day) == day)

    def add_lines(self, **columns: np.ndarray | int) -> None:
        """Planted billing lines: day, cust, ref (a slot's first SIM; -1-i in-stock SIM i;
        GHOST-i ghost SIM i; NO_SIM), ctype, ps, pe, cents, desc, flip (currency)."""
        size = len(columns["cust"])
        columns.setdefault("flip", 0)
        self.extra.append(
            {k: np.broadcast_to(np.asarray(v), size).copy() for k, v in columns.items()}
        )

    # -- plants ------------------------------------------------------------------------

    def plant(self, k: int) -> None:
        """k discrepancies and k near misses of every rule, on disjoint customers."""
        rng, f, half = self.rng, self.first, k // 2
        plain = self.plain_first_slot()

        # CHARGE_AFTER_DEACTIVATION: the closing credit withheld, or the line billed again
        # after deactivation; near miss: a credit short of the exact prorated share by at
        # most one cent.
        c = self.pick(2 * k, plain)
        slot = f[c]
        self.force_churn(slot, self.off_run_day(c, 35, 85))
        self.credit_mode[slot[:half]] = 1
        self.extra_bill_day[slot[half:k]] = self.run_after(
            self.cycle[c[half:k]], self.churn_day[slot[half:k]]
        )
        self.credit_mode[slot[k:]] = 2

        # USAGE_AFTER_DEACTIVATION: usage billed from the deactivation day on; near miss:
        # from the day before.
        c = self.pick(2 * k, plain)
        slot = f[c]
        day = self.off_run_day(c, 35, 85)
        self.force_churn(slot, day)
        run = self.run_after(self.cycle[c], day)
        self.add_lines(
            day=run,
            cust=c,
            ref=slot,
            ctype=1,
            ps=np.where(np.arange(2 * k) < k, day, day - 1),
            pe=run - 1,
            cents=rng.integers(40, 4200, 2 * k),
            desc=USAGE_TEXT,
        )

        # DUPLICATE_RECURRING_CHARGE: a period billed twice, or a line bridging two periods
        # (a chain of three); near miss: the same period billed in the other currency.
        c = self.pick(2 * k, plain)
        slot, cyc = f[c], self.cycle[c]
        run = self.run_on_or_before(cyc, self._between(0, 80, 2 * k))
        run = np.where(run < 0, self.run_after(cyc, run), run)
        nxt = self.run_after(cyc, run)
        chain = (np.arange(2 * k) >= k - k // 3) & (np.arange(2 * k) < k)
        fee = self.fee_idx(slot, np.where(chain, nxt, run))
        self.add_lines(
            day=np.where(chain, nxt, run + rng.integers(1, 6, 2 * k)),
            cust=c,
            ref=slot,
            ctype=0,
            ps=np.where(chain, nxt - 3, run),
            pe=np.where(chain, nxt + 2, nxt - 1),
            cents=FEES[fee],
            desc=fee,
            flip=np.arange(2 * k) >= k,
        )

        # UNBILLED_ACTIVE_LINE: tonight's invoice leaves out an active SIM; near miss: a SIM
        # deactivated tonight, not billed.
        second = np.minimum(f + 1, self.slots - 1)
        two = (self.nslots >= 2) & (self.cycle == 0) & plain
        two &= (self.churn_day[second] == NEVER) & (self.swap_day[second] == NEVER)
        c = self.pick(2 * k, two)
        self.omit_tonight[f[c[:k]]] = True
        self.force_churn(f[c[k:]], np.full(k, LAST))

        # TARIFF_MISMATCH: a full-period line priced off the agreed fee; near miss: off by
        # exactly one cent.
        c = self.pick(2 * k, plain)
        slot = f[c]
        self.chg_day[slot] = self._between(0, 80, 2 * k)
        self.tariff_day[slot] = self.run_after(self.cycle[c], self.chg_day[slot] - 1)
        self.tariff_delta[slot] = np.concatenate(
            [rng.choice(np.array([2, -2, 150, -250, 1000, 37]), k), rng.choice([1, -1], k)]
        )

        # UNKNOWN_SIM_CHARGED: a line naming a SIM the inventory lacks, holds in stock or
        # holds for another account; near miss: an account-level line (no SIM).
        c = self.pick(2 * k, np.ones(self.n, dtype=bool))
        third = self.ghosts = k // 3
        ref = np.concatenate(
            [
                GHOST - np.arange(third),
                -1 - np.arange(third),
                f[(c[2 * third : k] + 1) % self.n],
                np.full(k, NO_SIM),
            ]
        )
        credit = (ref < 0) & (ref > NO_SIM) & (rng.random(2 * k) < 0.25)
        day = self._between(0, LAST, 2 * k)
        self.add_lines(
            day=day,
            cust=c,
            ref=ref,
            ctype=np.where(credit, 3, 2),
            ps=day,
            pe=day,
            cents=np.where(credit, -1, 1) * rng.integers(100, 5000, 2 * k),
            desc=ACCESSORY_TEXT,
        )

        # SWAP_NOT_PROVISIONED: a SIM swapped out or cancelled 2+ days ago still active in
        # the inventory; near misses: swapped out yesterday, or left suspended.
        c = self.pick(2 * k, plain & (self.cycle != 0))
        slot = f[c]
        swapped = np.concatenate([slot[:half], slot[k:]])
        self.swap_day[swapped] = np.concatenate(
            [
                self._between(WINDOW, LAST - 1, half),
                np.where(np.arange(k) < half, LAST - 1, self._between(WINDOW, LAST - 1, k)),
            ]
        )
        self.force_churn(slot[half:k], self._between(WINDOW, LAST - 1, k - half), port=False)
        self.inv_override[slot] = np.where(np.arange(2 * k) < k + half, 1, 2)

        # The letter rules: customers prepared now, their letters chosen by `choose_letters`
        # once the inventory is known. WRONG_DISCONNECT_LETTER: cancelled a line but raised
        # their commitment (near miss: did not raise it); LETTER_TO_DEPARTED_CUSTOMER:
        # customers whose only line is gone.
        plain2 = plain & (self.nslots >= 2) & ~self.new[second]
        plain2 &= (self.churn_day[second] == NEVER) & (self.swap_day[second] == NEVER)
        raise_ = self.pick(2 * k, plain2)
        self.chg_day[f[raise_]] = NEVER
        self.force_churn(f[raise_], self._between(WINDOW, LAST, 2 * k), port=False)
        self.chg_day[f[raise_] + 1] = self._between(WINDOW, LAST, 2 * k)
        keep = self.pick(2 * k, plain2)
        self.force_churn(f[keep], self._between(WINDOW, LAST, 2 * k), port=False)
        departed = self.pick(2 * k, plain & (self.nslots == 1))
        self.force_churn(f[departed], self._between(0, LAST, 2 * k))
        self.letter_pools = {"raise": raise_, "keep": keep, "departed": departed}
        self.plants = {
            rule: {"planted": k, "near_miss": k}
            for rule in (
                "CHARGE_AFTER_DEACTIVATION",
                "USAGE_AFTER_DEACTIVATION",
                "DUPLICATE_RECURRING_CHARGE",
                "UNBILLED_ACTIVE_LINE",
                "TARIFF_MISMATCH",
                "UNKNOWN_SIM_CHARGED",
                "SWAP_NOT_PROVISIONED",
                "WRONG_DISCONNECT_LETTER",
                "LETTER_TO_DEPARTED_CUSTOMER",
            )
        }

    # -- SIMs --------------------------------------------------------------------------

    def derive_sims(self) -> None:
        """SIM rows: each line's first SIM (row = slot), the new SIMs of swaps, the stock,
        and the ghosts (billed, never in the inventory)."""
        rng, s = self.rng, self.slots
        swapped = np.flatnonzero(self.swap_day < NEVER)
        w, i, g = len(swapped), self.in_stock, self.ghosts
        self.inventory_rows = s + w + i
        self.new_row = np.full(s, -1)
        self.new_row[swapped] = s + np.arange(w)
        self.sim_slot = np.concatenate([np.arange(s), swapped, np.full(i + g, -1)])
        self.sim_cust = np.concatenate(
            [self.slot_cust, self.slot_cust[swapped], np.full(i + g, -1)]
        )
        first_deact = np.minimum(self.churn_day, self.swap_day)
        self.act_day = np.concatenate(
            [self.act_day[:s], self.swap_day[swapped], np.full(i + g, NEVER)]
        )
        self.sim_act_sec = np.concatenate(
            [self.act_sec, self.swap_sec[swapped], np.zeros(i + g, dtype=np.int64)]
        )
        self.deact_day = np.concatenate([first_deact, np.full(w + i + g, NEVER)])
        self.deact_sec = np.concatenate(
            [
                np.where(self.churn_day < NEVER, self.churn_sec, self.swap_sec),
                np.zeros(w + i + g, np.int64),
            ]
        )
        status = np.select(
            [
                self.inv_override == 1,
                self.inv_override == 2,
                self.churn_day < NEVER,
                (self.swap_day < NEVER) & self.lost,
                self.swap_day < NEVER,
                self.suspended,
            ],
            [0, 1, 2, 4, 3, 1],
            0,
        )
        self.status = np.concatenate([status, np.zeros(w, np.int64), np.full(i + g, 5)])
        self.inv_deact_day = np.where(
            np.concatenate([self.inv_override > 0, np.zeros(w + i + g, bool)]),
            NEVER,
            self.deact_day,
        )
        serial = 10**9 + np.cumsum(rng.integers(1, 40, s + w + i))
        self.iccid = pl.concat([iccids(serial, 20), iccids(10**9 + np.arange(g), 99)])
        slot = np.maximum(self.sim_slot, 0)
        self.sim_msisdn = (
            pl.Series(self.msisdn[slot]).cast(pl.String).set(pl.Series(self.sim_slot < 0), None)
        )
        self.sim_data = np.where(
            self.sim_slot >= 0, self.data[slot], rng.random(s + w + i + g) < 0.3
        )
        self.cust_id = padded("C", np.arange(self.n), 8)
        self.acct_id = padded("A", np.arange(self.n), 8)
        # Per SIM row (first SIMs only): plant controls.
        pad = np.full(w + i + g, NEVER)
        self.sim_extra_bill = np.concatenate([self.extra_bill_day, pad])
        self.sim_tariff_day = np.concatenate([self.tariff_day, pad])
        self.sim_omit = np.concatenate([self.omit_tonight, np.zeros(w + i + g, bool)])
        self.by_cycle = [
            np.flatnonzero((self.sim_cust >= 0) & (self.cycle[np.maximum(self.sim_cust, 0)] == k))
            for k in range(len(self.runs))
        ]

    def ref_rows(self, ref: np.ndarray) -> np.ndarray:
        """SIM rows of planted lines' refs (-1: no SIM)."""
        stock, ghosts = self.inventory_rows - self.in_stock, self.inventory_rows
        return np.select(
            [ref == NO_SIM, ref <= GHOST, ref < 0],
            [-1, ghosts + (GHOST - ref), stock + (-1 - ref)],
            ref,
        )

    def customer_flags(self) -> dict[str, np.ndarray]:
        """has_active, cancelled (in the 60 days) and raised (commitment), per customer."""
        rows = np.flatnonzero(
            np.isin(self.status[: self.inventory_rows], (0, 1))
            & (self.sim_cust[: self.inventory_rows] >= 0)
        )
        has_active = np.bincount(self.sim_cust[rows], minlength=self.n) > 0
        churn = self.churn_day
        cancelled = (
            np.bincount(self.slot_cust[(churn >= WINDOW) & (churn <= LAST)], minlength=self.n) > 0
        )
        before = np.select(
            [self.chg_day < WINDOW, self.new & (self.act_day[: self.slots] < WINDOW)],
            [FEES[self.fee1], FEES[self.fee0]],
            0,
        )
        after = np.select(
            [churn <= LAST, self.chg_day <= LAST, self.new],
            [0, FEES[self.fee1], FEES[self.fee0]],
            0,
        )
        delta = np.bincount(self.slot_cust, weights=after - before, minlength=self.n)
        return {"has_active": has_active, "cancelled": cancelled, "raised": delta > 0}

    # -- letters -----------------------------------------------------------------------

    def choose_letters(self, k: int) -> pl.DataFrame:
        """Tonight's letters: the planted ones, their near misses and the organic ones."""
        flags, pools, rng = self.customer_flags(), self.letter_pools, self.rng
        active, cancelled, raised = flags["has_active"], flags["cancelled"], flags["raised"]

        def take(pool: np.ndarray, mask: np.ndarray, m: int) -> np.ndarray:
            ok = pool[mask[pool]]
            if len(ok) < m:
                raise ValueError(f"too few customers for letters ({len(ok)} < {m})")
            return ok[:m]

        half = k // 2
        quiet = self.pick(k - half, active & ~cancelled)
        raisers = take(pools["raise"], active & cancelled & raised, half)
        keepers = take(pools["keep"], active & cancelled & ~raised, k)
        departed = take(pools["departed"], ~active, 2 * k)
        organic = self.pick(max(10, self.n * 3 // 1000), active)
        gone = self.pick(max(2, self.n // 2000), ~active)  # winback to departed: no case
        groups = [  # (customers, [(letter_type, trigger_reason), ...])
            (quiet, [("disconnect_save", "churn_score"), ("winback", "contract_ending")]),
            (raisers, [("winback", "line_cancelled")]),
            (keepers, [("winback", "line_cancelled")]),
            (
                departed[:k],
                [
                    ("contract_end_offer", "contract_ending"),
                    ("loyalty_reward", "churn_score"),
                    ("disconnect_save", "disconnect_request"),
                ],
            ),
            (departed[k:], [("winback", "line_cancelled")]),
            (
                organic,
                [
                    ("disconnect_save", "disconnect_request"),
                    ("disconnect_save", "port_out_request"),
                    ("contract_end_offer", "contract_ending"),
                    ("loyalty_reward", "churn_score"),
                ],
            ),
            (gone, [("winback", "port_out_request")]),
        ]
        cust, kinds = [], []
        for members, choices in groups:
            cust.append(members)
            kinds.append([choices[j] for j in rng.integers(0, len(choices), len(members))])
        c = np.concatenate(cust)
        letter_type, trigger = zip(*[x for part in kinds for x in part], strict=True)
        msisdn = pl.Series(self.msisdn[self.first[c]]).cast(pl.String)
        return pl.DataFrame(
            {
                "campaign_id": pl.select(
                    pl.format(
                        f"CMP-{{}}-{NIGHT:%Y%m}",
                        pl.lit(pl.Series(letter_type)).str.to_uppercase().str.replace_all("_", "-"),
                    )
                ).to_series(),
                "letter_id": padded("LTR", np.arange(1, len(c) + 1), 9),
                "letter_type": pl.Series(letter_type),
                "customer_id": self.cust_id.gather(c),
                "account_id": self.acct_id.gather(c),
                "msisdn": msisdn.set(pl.Series(rng.random(len(c)) < 0.2), None),
                "trigger_reason": pl.Series(trigger),
                "scheduled_send_date": pl.repeat(NIGHT + timedelta(days=3), len(c), eager=True),
                "channel": pl.Series(
                    np.array(["letter", "email", "sms"])[rng.integers(0, 3, len(c))]
                ),
            }
        )

    # -- billing -----------------------------------------------------------------------

    def billing(self, t: int, first_line: int) -> pl.DataFrame:
        """The billing lines of day t: bill runs, closing credits, planted lines."""
        parts = []
        for k, runs in enumerate(self.runs):
            if t in runs:
                parts += self._bill_run(t, k)
        parts.append(self._credits(t))
        for extra in self.extra:
            on = extra["day"] == t
            if on.any():
                parts.append(
                    {
                        "cust": extra["cust"][on],
                        "row": self.ref_rows(extra["ref"][on]),
                        "ctype": extra["ctype"][on],
                        "ps": extra["ps"][on],
                        "pe": extra["pe"][on],
                        "cents": extra["cents"][on],
                        "desc": extra["desc"][on],
                        "flip": extra["flip"][on],
                        "inv": 2,
                        "bd": 0,
                    }
                )
        frame = pl.DataFrame(
            [
                pl.Series(
                    name,
                    np.concatenate(
                        [np.broadcast_to(np.asarray(p[name]), len(p["cust"])) for p in parts]
                    ).astype(np.int64),
                )
                for name in (
                    "cust",
                    "row",
                    "ctype",
                    "ps",
                    "pe",
                    "cents",
                    "desc",
                    "flip",
                    "inv",
                    "bd",
                )
            ]
        ).sort("inv", "cust", maintain_order=True)
        return self._line_frame(t, frame, first_line)

    def _bill_run(self, t: int, k: int) -> list[dict[str, np.ndarray | int]]:
        rows = self.by_cycle[k]
        runs = self.runs[k]
        prev, nxt = runs[np.searchsorted(runs, t) - 1], runs[np.searchsorted(runs, t) + 1]
        act, deact, slot = self.act_day[rows], self.deact_day[rows], self.sim_slot[rows]
        billed = (act <= t) & (deact > t) & ~(self.sim_omit[rows] & (t == LAST))
        billed |= self.sim_extra_bill[rows] == t
        r = rows[billed]
        fee = self.fee_idx(slot[billed], t)
        cents = FEES[fee] + np.where(
            self.sim_tariff_day[r] == t, self.tariff_delta[np.minimum(r, self.slots - 1)], 0
        )
        used_from, used_to = np.maximum(prev, act), np.minimum(t - 1, deact - 1)
        used = used_from <= used_to
        custs = np.flatnonzero(self.cycle == k)
        handset = custs[self.handset[custs] >= 0]
        paper = np.unique(self.sim_cust[r])
        paper = paper[self.paper[paper]]
        run = {"inv": 0, "bd": self.bill_days[k], "flip": 0}
        return [
            {
                **run,
                "cust": self.sim_cust[r],
                "row": r,
                "ctype": 0,
                "ps": t,
                "pe": nxt - 1,
                "cents": cents,
                "desc": fee,
            },
            {
                **run,
                "cust": self.sim_cust[rows[used]],
                "row": rows[used],
                "ctype": 1,
                "ps": used_from[used],
                "pe": used_to[used],
                "cents": self.rng.integers(40, 4200, int(used.sum())),
                "desc": USAGE_TEXT,
            },
            {
                **run,
                "cust": handset,
                "row": self.first[handset],
                "ctype": 2,
                "ps": t,
                "pe": t,
                "cents": np.array([p for _, p in HANDSETS])[self.handset[handset]],
                "desc": HANDSET_TEXT + self.handset[handset],
            },
            {
                **run,
                "cust": paper,
                "row": -1,
                "ctype": 2,
                "ps": t,
                "pe": nxt - 1,
                "cents": 250,
                "desc": PAPER_TEXT,
            },
        ]

    def _credits(self, t: int) -> dict[str, np.ndarray | int]:
        """Off-cycle credits for the rest of the charged period of SIMs deactivated on t."""
        rows = np.flatnonzero(self.deact_day == t)
        cust = self.sim_cust[rows]
        mode = np.where(rows < self.slots, self.credit_mode[np.minimum(rows, self.slots - 1)], 0)
        last = self.run_on_or_before(self.cycle[cust], np.full(len(rows), t))
        keep = (last < t) & (self.act_day[rows] <= last) & (mode != 1)
        rows, cust, mode, last = rows[keep], cust[keep], mode[keep], last[keep]
        end = self.run_after(self.cycle[cust], last) - 1
        share = FEES[self.fee_idx(self.sim_slot[rows], last)] * (end - t + 1)
        days = end - last + 1
        refund = np.where(mode == 2, -(-share // days) - 1, share // days)
        return {
            "cust": cust,
            "row": rows,
            "ctype": 3,
            "ps": t,
            "pe": end,
            "cents": -refund,
            "desc": CREDIT_TEXT,
            "flip": 0,
            "inv": 1,
            "bd": 0,
        }

    def _line_frame(self, t: int, f: pl.DataFrame, first_line: int) -> pl.DataFrame:
        day = (START + timedelta(days=t)).strftime("%Y%m%d")
        row = f["row"].set(f["row"] < 0, None)
        cur = (pl.Series(self.cur).gather(f["cust"]) ^ f["flip"]).cast(pl.Int64)
        code = pl.Series([c for c, _ in TARIFFS])
        inv_tag = pl.Series(["", "X", "P"]).gather(f["inv"])
        cust_text = f["cust"].cast(pl.String).str.zfill(8)
        frame = pl.DataFrame(
            {
                "line_id": padded("BL", first_line + np.arange(f.height), 12),
                "bill_run_id": pl.select(
                    pl.when(f["inv"] == 0)
                    .then(pl.format(f"BR-{day}-D{{}}", f["bd"].cast(pl.String).str.zfill(2)))
                    .otherwise(pl.lit(f"BR-{day}-OFF"))
                ).to_series(),
                "invoice_id": pl.select(
                    pl.concat_str(pl.lit(f"INV{day}"), inv_tag, cust_text)
                ).to_series(),
                "customer_id": self.cust_id.gather(f["cust"]),
                "account_id": self.acct_id.gather(f["cust"]),
                "msisdn": self.sim_msisdn.gather(row),
                "iccid": self.iccid.gather(row),
                "charge_type": pl.Series(CHARGE).gather(f["ctype"]),
                "tariff_code": code.gather(f["desc"].set(f["ctype"] != 0, None)),
                "description": pl.Series(DESCRIPTIONS).gather(f["desc"]),
                "period_start": dates(f["ps"].to_numpy()),
                "period_end": dates(f["pe"].to_numpy()),
                "amount": money(f["cents"].to_numpy()),
                "currency": pl.Series(CURRENCIES).gather(cur),
            }
        )
        return frame.select(
            pl.col(c).cast(d) for c, d in SOURCE_SPECS["billing_lines"].schema.items()
        )

    # -- store transactions ------------------------------------------------------------

    def events(self) -> dict[str, np.ndarray]:
        """Every store transaction of the 120 days, in (day, second, line) order."""
        s, rng = self.slots, self.rng
        slots = np.arange(s)

        def current(day: np.ndarray, slot: np.ndarray) -> np.ndarray:
            return np.where(self.swap_day[slot] <= day, self.new_row[slot], slot)

        new = slots[self.new]
        chg = slots[self.chg_day < NEVER]
        chg_action = np.select(
            [
                FEES[self.fee1[chg]] > FEES[self.fee0[chg]],
                FEES[self.fee1[chg]] < FEES[self.fee0[chg]],
            ],
            [2, 3],
            1,
        )
        churn = slots[self.churn_day < NEVER]
        swap = slots[self.swap_day < NEVER]
        hs = slots[self.hs_day < NEVER]
        parts = [
            (new, self.act_day[new], self.act_sec[new], 0, new, -1, self.fee0[new], 24),
            (
                chg,
                self.chg_day[chg],
                self.chg_sec[chg],
                chg_action,
                current(self.chg_day[chg], chg),
                -1,
                self.fee1[chg],
                12,
            ),
            (
                churn,
                self.churn_day[churn],
                self.churn_sec[churn],
                np.where(self.port[churn], 7, 6),
                np.where(self.port[churn], -1, churn),
                -1,
                -1,
                0,
            ),
            (swap, self.swap_day[swap], self.swap_sec[swap], 4, self.new_row[swap], swap, -1, 0),
            (hs, self.hs_day[hs], self.hs_sec[hs], 5, current(self.hs_day[hs], hs), -1, -1, 0),
        ]
        names = ("slot", "day", "sec", "action", "row", "prev", "fee", "months")
        ev = {
            name: np.concatenate(
                [np.broadcast_to(np.asarray(p[i]), len(p[0])) for p in parts]
            ).astype(np.int64)
            for i, name in enumerate(names)
        }
        order = np.lexsort((ev["action"], ev["slot"], ev["sec"], ev["day"]))
        ev = {name: v[order] for name, v in ev.items()}
        ev["channel"] = rng.choice(4, len(order), p=[0.45, 0.25, 0.2, 0.1])
        ev["store"] = rng.integers(1, 41, len(order))
        ev["agent"] = rng.integers(1, 121, len(order))
        return ev

    def transactions(self, ev: dict[str, np.ndarray], t: int) -> pl.DataFrame:
        lo, hi = np.searchsorted(ev["day"], [t, t + 1])
        e = {name: v[lo:hi] for name, v in ev.items()}
        cust = self.slot_cust[e["slot"]]
        contract = e["fee"] >= 0
        fee = np.maximum(e["fee"], 0)
        row, prev = pl.Series(e["row"]), pl.Series(e["prev"])
        channel = pl.Series(CHANNELS).gather(e["channel"])
        frame = pl.DataFrame(
            {
                "transaction_id": padded("T", lo + 1 + np.arange(hi - lo), 10),
                "transaction_ts": timestamps(e["day"], e["sec"]),
                "channel": channel,
                "store_id": padded("ST", e["store"], 3).set(channel != "store", None),
                "agent_id": padded("AG", e["agent"], 4).set(channel == "online", None),
                "customer_id": self.cust_id.gather(cust),
                "account_id": self.acct_id.gather(cust),
                "msisdn": pl.Series(self.msisdn[e["slot"]]).cast(pl.String),
                "iccid": self.iccid.gather(row.set(row < 0, None)),
                "previous_iccid": self.iccid.gather(prev.set(prev < 0, None)),
                "action": pl.Series(ACTIONS).gather(e["action"]),
                "tariff_code": pl.Series([c for c, _ in TARIFFS])
                .gather(fee)
                .set(pl.Series(~contract), None),
                "monthly_fee": money(FEES[fee]).set(pl.Series(~contract), None),
                "contract_months": pl.Series(e["months"]).set(pl.Series(~contract), None),
                "currency": pl.Series(CURRENCIES)
                .gather(self.cur[cust])
                .set(pl.Series(~contract), None),
            }
        )
        return frame.select(
            pl.col(c).cast(d) for c, d in SOURCE_SPECS["store_transactions"].schema.items()
        )

    # -- inventory ---------------------------------------------------------------------

    def inventory(self) -> pl.DataFrame:
        """The SIM inventory snapshot at the end of the night."""
        m = self.inventory_rows
        cust = self.sim_cust[:m]
        owned = pl.Series(cust < 0)
        idx = pl.Series(np.maximum(cust, 0))
        act, deact = self.act_day[:m], self.inv_deact_day[:m]
        deact_sec = np.where(deact < NEVER, self.deact_sec[:m], 0)
        changed = np.where(deact < NEVER, deact, np.where(act < NEVER, act, -400))
        changed_sec = np.where(deact < NEVER, deact_sec, self.sim_act_sec[:m])
        frame = pl.DataFrame(
            {
                "iccid": self.iccid[:m],
                "msisdn": self.sim_msisdn[:m],
                "customer_id": self.cust_id.gather(idx).set(owned, None),
                "account_id": self.acct_id.gather(idx).set(owned, None),
                "sim_type": pl.Series(np.where(self.sim_data[:m], "data", "voice")),
                "status": pl.Series(STATUSES).gather(self.status[:m]),
                "activated_at": timestamps(act, self.sim_act_sec[:m]),
                "deactivated_at": timestamps(deact, deact_sec),
                "status_changed_at": timestamps(changed, changed_sec),
            }
        )
        return frame.select(
            pl.col(c).cast(d) for c, d in SOURCE_SPECS["sim_inventory"].schema.items()
        )


def curate(warehouse: LocalStorage, source: str, day: date, frame: pl.DataFrame) -> None:
    """Write a history partition exactly as `commit_partition` does after ingest."""
    parts = max(1, -(-frame.height // PART_ROWS))
    commit_partition(
        warehouse,
        LoadedPartition(
            source=source,
            business_date=day,
            valid=frame,
            quarantined=pl.DataFrame(),
            rows_read=frame.height,
            files=[f"part-{i:04d}.csv" for i in range(parts)],
        ),
    )


def land(landing: Path, source: str, day: date, frame: pl.DataFrame) -> None:
    """Write a landing partition: CSV parts of at most PART_ROWS rows, then the manifest."""
    folder = landing / source / f"business_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    text = frame.with_columns(
        pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        for c, d in frame.schema.items()
        if isinstance(d, pl.Datetime)
    )
    files = []
    for i in range(max(1, -(-text.height // PART_ROWS))):
        part = text.slice(i * PART_ROWS, PART_ROWS)
        data = part.write_csv().encode()
        name = f"part-{i:04d}.csv"
        (folder / name).write_bytes(data)
        files.append(
            {"name": name, "rows": part.height, "sha256": hashlib.sha256(data).hexdigest()}
        )
    manifest = {
        "source": source,
        "business_date": day.isoformat(),
        "contract_version": 1,
        "files": files,
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def plants_per_rule(customers: int) -> int:
    return max(4, customers // 1000)


def generate(out: str | Path, customers: int, seed: int = 7, cycles: int = 4) -> dict:
    """Write `out/warehouse` (curated history) and `out/landing` (the night); returns and
    writes `out/_bench.json` (shape, row counts, plants)."""
    root = Path(out)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    warehouse, landing = LocalStorage(root / "warehouse"), root / "landing"
    world = World(customers, seed, cycles)
    k = plants_per_rule(customers)
    world.plant(k)
    world.derive_sims()
    events = world.events()
    rows = {"history": {"billing_lines": 0, "store_transactions": 0}, "night": {}}
    first_line = 1
    for t in range(DAYS):
        day = START + timedelta(days=t)
        lines = world.billing(t, first_line)
        first_line += lines.height
        tx = world.transactions(events, t)
        if t < LAST:
            curate(warehouse, "billing_lines", day, lines)
            curate(warehouse, "store_transactions", day, tx)
            rows["history"]["billing_lines"] += lines.height
            rows["history"]["store_transactions"] += tx.height
        else:
            night = {
                "store_transactions": tx,
                "sim_inventory": world.inventory(),
                "billing_lines": lines,
                "retention_campaigns": world.choose_letters(k),
            }
            for source, frame in night.items():
                land(landing, source, day, frame)
                rows["night"][source] = frame.height
    meta = {
        "format": FORMAT_VERSION,
        "customers": customers,
        "seed": seed,
        "cycles": cycles,
        "bill_days": world.bill_days,
        "night": NIGHT.isoformat(),
        "history_days": DAYS,
        "slots": world.slots,
        "sims": world.inventory_rows,
        "rows": rows,
        "plants": world.plants,
    }
    (root / "_bench.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
