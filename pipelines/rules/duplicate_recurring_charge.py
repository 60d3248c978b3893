"""DUPLICATE_RECURRING_CHARGE: recurring lines of one SIM whose periods overlap.

Lines chain into one group when each starts on or before the latest end seen so far in
the SIM's lines of one currency sorted by period_start. Groups of one SIM in two
currencies that share a first period_start share a case key: they are one case, with its
amount per currency (see `currency_totals`).
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.detections import currency_totals, finish, mixed_money_text
from pipelines.rules.inputs import NightInputs, joined_to
from pipelines.rules.wording import the_line

RULE_ID = "DUPLICATE_RECURRING_CHARGE"
SIM = ["iccid", "currency"]
KEY = ["iccid", "period_start"]
DAY_SPAN = 10_000_000  # more days than any date's ordinal: keeps each SIM's tags apart


def detect(night: NightInputs) -> pl.DataFrame:
    # A SIM's whole chain is judged by the shard that owns the SIM.
    recurring = night.sim_lines("recurring").filter(pl.col("iccid").is_not_null())
    # One pass over the lines sorted by SIM and start: a running maximum of period_end,
    # tagged with the SIM's ordinal so it never reaches across SIMs, says whether a line
    # starts a new group. Only the keys are sorted; only lines of groups of two or more
    # are joined back for the aggregation.
    start, end = (pl.col(c).to_physical().cast(pl.Int64) for c in ("period_start", "period_end"))
    sim_key = ["iccid_head", "iccid_tail", "currency"]
    new_sim = pl.any_horizontal(pl.col(c) != pl.col(c).shift(1) for c in sim_key)
    sim_tag = new_sim.fill_null(True).cum_sum().cast(pl.Int64) * DAY_SPAN
    grouped = (
        recurring.select(
            "line_id",
            "currency",
            "period_start",
            "period_end",
            # ICCIDs are 19-20 digits (checked at ingest): sort on two integers, not text.
            iccid_head=pl.col("iccid").str.slice(0, 18).cast(pl.Int64),
            iccid_tail=pl.concat_str(pl.lit("1"), pl.col("iccid").str.slice(18)).cast(pl.Int64),
        )
        .sort([*sim_key, "period_start", "period_end"])
        .with_columns(sim_tag=sim_tag)
        .with_columns(reach=(pl.col("sim_tag") + end).cum_max().shift(1))
        .with_columns(
            group=(
                pl.col("reach").is_null() | (pl.col("sim_tag") + start > pl.col("reach"))
            ).cum_sum()
        )
        .filter(pl.col("group").is_duplicated())
        .select("line_id", "group")
    )
    # The lines of duplicate groups (few) are read whole for them alone and collected once:
    # the rest reads them three times, and polars would run the scan and the sort again
    # for each.
    lines = joined_to(recurring, grouped.collect(), "line_id").collect().lazy()
    groups = lines.group_by([*SIM, "group"]).agg(
        period_start=pl.col("period_start").min(),
        kept_line=pl.col("line_id").min(),
        cents=pl.col("cents").sum() - pl.col("cents").sort_by("line_id").first(),
    )
    lines = lines.join(
        groups.select(*SIM, "group", "period_start"), on=[*SIM, "group"], suffix="_group"
    )
    by_line = pl.col("line_id")
    cases = (
        lines.group_by("iccid", period_start="period_start_group")
        .agg(
            *(
                pl.col(c).sort_by(by_line).first()
                for c in ("customer_id", "account_id", "msisdn", "invoice_id")
            ),
            n=pl.len(),
            period_end=pl.col("period_end").max(),
            evs=pl.struct(
                "line_id",
                "invoice_id",
                "bill_run_id",
                "period_start",
                "period_end",
                "amount",
                "currency",
                "tariff_code",
            ).sort_by(by_line),
        )
        .join(groups.group_by(KEY).agg(kept_line=pl.col("kept_line").min()), on=KEY)
        .join(currency_totals(groups, KEY), on=KEY, how="left")
        .with_columns(
            evidence=pl.struct("iccid", kept_line_id="kept_line", lines="evs").struct.json_encode(),
            summary=pl.format(
                "The SIM of {} has {} recurring charges with overlapping periods between {} "
                "and {}: {} is charged more than once.",
                the_line(),
                "n",
                "period_start",
                "period_end",
                mixed_money_text(),
            ),
        )
    )
    return finish(RULE_ID, cases.collect())
