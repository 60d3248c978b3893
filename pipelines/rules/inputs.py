"""What the rules read on a night, and the derived frames several rules share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from pipelines.buckets import number_bucket, shard_buckets, sim_bucket
from pipelines.contract import ACTIVE_STATUSES, CONTRACT_ACTIONS
from pipelines.money import to_cents


@dataclass(frozen=True)
class NightInputs:
    """The history a night is judged on (contract section 2).

    transactions and billing hold every curated partition up to the business date (with a
    `business_date` column); inventory is the night's snapshot; letters are the night's.

    A shard (`shard` = (k, N)) judges the rows that drive its cases: the rules keyed by a
    SIM judge the lines of the SIMs it owns (`sim_lines`, read from `sim_billing`, its SIM
    buckets' share of the history), the rule keyed by a number the recurring lines of the
    numbers it owns (`number_lines`, from `number_billing`), the others the rows of its
    `customers`. Without those shares the lines are read from `billing` and filtered.
    """

    business_date: date
    transactions: pl.LazyFrame
    inventory: pl.LazyFrame
    billing: pl.LazyFrame
    letters: pl.LazyFrame
    customers: pl.LazyFrame | None = None  # the shard's customer ids; None = all
    shard: tuple[int, int] | None = None  # (k, N): shard k of N; None = the whole night
    sim_billing: pl.LazyFrame | None = None  # the lines of the shard's SIM buckets
    number_billing: pl.LazyFrame | None = None  # the recurring lines of its number buckets

    def own(self, frame: pl.LazyFrame, column: str = "customer_id") -> pl.LazyFrame:
        """The rows of `frame` that drive this shard's cases by customer (all rows when
        unsharded)."""
        if self.customers is None:
            return frame
        return frame.join(self.customers, left_on=column, right_on="customer_id", how="semi")

    def own_sims(self, frame: pl.LazyFrame, column: str = "iccid") -> pl.LazyFrame:
        """The rows of `frame` whose SIM this shard owns (all rows when unsharded)."""
        if self.shard is None:
            return frame
        return frame.filter(sim_bucket(pl.col(column)).is_in(shard_buckets(*self.shard)))

    def own_numbers(self, frame: pl.LazyFrame, column: str = "msisdn") -> pl.LazyFrame:
        """The rows of `frame` whose number this shard owns (all rows when unsharded)."""
        if self.shard is None:
            return frame
        return frame.filter(number_bucket(pl.col(column)).is_in(shard_buckets(*self.shard)))

    def sim_lines(self, *charge_types: str) -> pl.LazyFrame:
        """The billing lines of the shard's SIMs (of the given charge types, default all),
        with the amount in integer cents; every line when unsharded."""
        frame = self.billing if self.sim_billing is None else self.sim_billing
        return typed(self.own_sims(frame), charge_types)

    def number_lines(self) -> pl.LazyFrame:
        """The recurring lines with a number of the shard's numbers, with the amount in
        integer cents; all of them when unsharded."""
        frame = self.billing if self.number_billing is None else self.number_billing
        numbered = frame.filter(pl.col("msisdn").is_not_null())
        return typed(self.own_numbers(numbered), ("recurring",))

    def days_before(self, n: int) -> date:
        return self.business_date - timedelta(days=n)

    def sims(self) -> pl.LazyFrame:
        """The snapshot with UTC dates of activation and deactivation, and an active flag."""
        return self.inventory.with_columns(
            act_date=pl.col("activated_at").dt.date(),
            deact_date=pl.col("deactivated_at").dt.date(),
            is_active=pl.col("status").is_in(ACTIVE_STATUSES),
        )

    def deactivated_sims(self) -> pl.LazyFrame:
        """iccid, deactivation date and status of every SIM with a deactivation date."""
        return (
            self.sims()
            .filter(pl.col("deact_date").is_not_null())
            .select("iccid", "deact_date", "status")
        )

    def with_deactivation(self, lines: pl.LazyFrame) -> pl.LazyFrame:
        """The rows of `lines` whose SIM has a deactivation date, joined to it (deact_date,
        status); the SIMs (few) are collected first, see `joined_to`."""
        return joined_to(lines, self.own_sims(self.deactivated_sims()).collect(), "iccid")

    def tonight(self) -> pl.LazyFrame:
        """The billing lines of tonight's bill runs."""
        return self.billing.filter(pl.col("business_date") == self.business_date)

    def actions(self) -> pl.LazyFrame:
        """Store transactions with their UTC date."""
        return self.transactions.with_columns(tx_date=pl.col("transaction_ts").dt.date())

    def contract_actions(self) -> pl.LazyFrame:
        """Contract actions with the agreed fee in cents and its currency."""
        return (
            self.actions()
            .filter(pl.col("action").is_in(CONTRACT_ACTIONS))
            .select(
                "msisdn",
                "customer_id",
                "tx_date",
                "transaction_ts",
                "transaction_id",
                fee_cents=cents("monthly_fee"),
                fee_currency="currency",
            )
        )

    def agreed_fees_on(self, day: date, msisdns: pl.LazyFrame | None = None) -> pl.LazyFrame:
        """Per msisdn (of `msisdns`, default all): the fee of its latest contract action on
        or before `day`."""
        actions = self.contract_actions().filter(pl.col("tx_date") <= day)
        if msisdns is not None:
            actions = actions.join(msisdns, on="msisdn", how="semi")
        return latest(actions, "msisdn").select(
            "msisdn", "fee_cents", "fee_currency", fee_transaction_id="transaction_id"
        )


def typed(lines: pl.LazyFrame, charge_types: tuple[str, ...]) -> pl.LazyFrame:
    """The lines of the given charge types (all when none is given), with integer cents."""
    if charge_types:
        lines = lines.filter(pl.col("charge_type").is_in(charge_types))
    return lines.with_columns(cents=cents("amount"))


def cents(column: str) -> pl.Expr:
    """A money column (Decimal with scale 2) as exact integer cents."""
    return to_cents(column)


def latest(frame: pl.LazyFrame, *by: str) -> pl.LazyFrame:
    """The latest row per group, by (transaction_ts, transaction_id)."""
    return frame.group_by(*by).agg(pl.all().sort_by(["transaction_ts", "transaction_id"]).last())


def among(found: pl.DataFrame, column: str) -> pl.Expr:
    """`column` holds one of the values `found` holds there: a filter on values already
    collected (few), which polars applies in the scan, so that only matching rows are read
    whole."""
    return pl.col(column).is_in(found[column].implode())


def joined_to(frame: pl.LazyFrame, found: pl.DataFrame, on: str) -> pl.LazyFrame:
    """`frame` joined to the collected `found` on `on`, its rows filtered with `among`
    first: a rule finds its few rows on narrow columns, then reads them whole."""
    return frame.filter(among(found, on)).join(found.lazy(), on=on)
