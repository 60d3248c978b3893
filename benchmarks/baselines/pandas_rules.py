"""The nine rules of catalogue v1 in plain pandas over the curated Parquet (docs/rule-semantics.md).

pandas has no exact decimal dtype, so money is read as integer cents (pyarrow converts the
Parquet decimals on load); the prorated share of CHARGE_AFTER_DEACTIVATION is summed with
`Fraction` and rounded half-even to a cent at the end.
"""

from __future__ import annotations

import hashlib
from datetime import date
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CONTRACT_ACTIONS = ["new_line", "renewal", "upgrade", "downgrade"]
LEAVING = ["cancel_line", "port_out"]
ACTIVE = ["active", "suspended"]
HUNDRED = pa.scalar(100, pa.decimal128(5, 0))


def _read(
    curated: Path, source: str, dates: list[date], columns: list[str], money: str | None = None
) -> pd.DataFrame:
    """The given partitions of a curated source, with `business_date`; `money` as `cents`."""
    tables = []
    for d in dates:
        table = pq.read_table(
            curated / source / f"business_date={d}" / "data.parquet",
            columns=columns + ([money] if money else []),
        )
        if money:
            cents = pc.cast(pc.multiply(table[money], HUNDRED), pa.int64())
            table = table.drop_columns([money]).append_column("cents", cents)
        tables.append(
            table.append_column("business_date", pa.array([d] * table.num_rows, pa.date32()))
        )
    return pa.concat_tables(tables).to_pandas(date_as_object=False)


def _utc_date(ts: pd.Series) -> pd.Series:
    """The UTC date of timestamps, in the dtype dates are read as (datetime64[ms])."""
    return ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("D").astype("datetime64[ms]")


class Night:
    """What a night is judged on, as pandas frames."""

    def __init__(self, warehouse: str | Path, business_date: date):
        curated = Path(warehouse) / "curated"
        self.day = pd.Timestamp(business_date)
        history = sorted(
            date.fromisoformat(p.name.removeprefix("business_date="))
            for p in (curated / "billing_lines").iterdir()
            if p.name.startswith("business_date=")
        )
        history = [d for d in history if d <= business_date]
        self.billing = _read(
            curated,
            "billing_lines",
            history,
            [
                "line_id",
                "invoice_id",
                "account_id",
                "msisdn",
                "iccid",
                "charge_type",
                "period_start",
                "period_end",
                "currency",
            ],
            money="amount",
        )
        self.billing["charge_type"] = self.billing["charge_type"].astype("category")
        tx = _read(
            curated,
            "store_transactions",
            history,
            [
                "transaction_id",
                "transaction_ts",
                "customer_id",
                "msisdn",
                "iccid",
                "previous_iccid",
                "action",
                "currency",
            ],
            money="monthly_fee",
        )
        tx["tx_date"] = _utc_date(tx["transaction_ts"])
        self.tx = tx.rename(columns={"cents": "fee_cents"})
        sims = _read(
            curated,
            "sim_inventory",
            [business_date],
            [
                "iccid",
                "msisdn",
                "customer_id",
                "account_id",
                "status",
                "activated_at",
                "deactivated_at",
            ],
        )
        for col, name in (("activated_at", "act_date"), ("deactivated_at", "deact_date")):
            sims[name] = _utc_date(sims[col])
        self.sims = sims
        self.letters = _read(
            curated,
            "retention_campaigns",
            [business_date],
            ["letter_id", "letter_type", "customer_id", "trigger_reason"],
        )

    def lines(self, charge_type: str) -> pd.DataFrame:
        return self.billing[self.billing["charge_type"] == charge_type]

    def contract(self) -> pd.DataFrame:
        return self.tx[self.tx["action"].isin(CONTRACT_ACTIONS)]

    def fees_on(self, day: pd.Timestamp) -> pd.DataFrame:
        """Per msisdn: fee and currency of its latest contract action on or before `day`."""
        c = self.contract()
        c = c[c["tx_date"] <= day].sort_values(["transaction_ts", "transaction_id"])
        return c.drop_duplicates("msisdn", keep="last")[["msisdn", "fee_cents", "currency"]].rename(
            columns={"currency": "fee_currency"}
        )

    def active_customers(self) -> pd.Series:
        s = self.sims
        return s.loc[s["status"].isin(ACTIVE) & s["customer_id"].notna(), "customer_id"].unique()


def one_currency_sum(
    frame: pd.DataFrame, key: list[str], currency: str, cents: str
) -> pd.DataFrame:
    """One row per key: cents summed when the rows share one currency (null counts as one)
    and no amount is null, else null."""
    g = frame.groupby(key, sort=False, observed=True, dropna=False)
    out = g.agg(
        n_cur=(currency, lambda s: s.nunique(dropna=False)),
        nulls=(cents, lambda s: s.isna().sum()),
        total=(cents, "sum"),
    ).reset_index()
    out["cents"] = out["total"].astype("Int64").where((out["n_cur"] == 1) & (out["nulls"] == 0))
    return out[[*key, "cents"]]


def _text(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.dt.strftime("%Y-%m-%d").fillna("")
    return col.astype("string").fillna("")


def cases(rule_id: str, frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """case_id, rule_id and cents of a rule's rows (one per key)."""
    text = pd.Series(rule_id, index=frame.index, dtype="string")
    for k in key:
        text = text + "|" + _text(frame[k])
    ids = [hashlib.sha256(t.encode()).hexdigest()[:16] for t in text]
    return pd.DataFrame(
        {"case_id": ids, "rule_id": rule_id, "cents": frame["cents"].astype("Int64").to_numpy()}
    )


def charge_after_deactivation(n: Night) -> pd.DataFrame:
    sims = n.sims.loc[n.sims["deact_date"].notna(), ["iccid", "deact_date"]]
    ch = n.lines("recurring").merge(sims, on="iccid")
    ch = ch[ch["deact_date"] <= ch["period_end"]].copy()
    ch["inactive"] = (
        ch["period_end"] - np.maximum(ch["period_start"], ch["deact_date"])
    ).dt.days + 1
    ch["days"] = (ch["period_end"] - ch["period_start"]).dt.days + 1
    credits = n.lines("credit")[
        ["iccid", "currency", "line_id", "period_start", "period_end", "cents"]
    ]
    cr = ch[["iccid", "currency", "period_start", "period_end"]].merge(
        credits, on=["iccid", "currency"], suffixes=("", "_c")
    )
    cr = cr[(cr["period_start_c"] <= cr["period_end"]) & (cr["period_end_c"] >= cr["period_start"])]
    cr = cr.drop_duplicates(["iccid", "period_start", "line_id"])
    credit = cr.groupby(["iccid", "period_start"])["cents"].sum().to_dict()
    one = ch.groupby(["iccid", "period_start"])["currency"].nunique()
    net: dict[tuple, Fraction] = {}
    for key, c, i, d in zip(
        zip(ch["iccid"], ch["period_start"], strict=True),
        ch["cents"],
        ch["inactive"],
        ch["days"],
        strict=True,
    ):
        net[key] = net.get(key, Fraction(0)) + Fraction(int(c) * int(i), int(d))
    rows = [
        (iccid, ps, round(v + credit.get((iccid, ps), 0)))
        for (iccid, ps), v in net.items()
        if one[(iccid, ps)] == 1 and v + credit.get((iccid, ps), 0) > 1
    ]
    fired = pd.DataFrame(rows, columns=["iccid", "period_start", "cents"])
    fired["period_start"] = pd.to_datetime(fired["period_start"])
    return cases("CHARGE_AFTER_DEACTIVATION", fired, ["iccid", "period_start"])


def usage_after_deactivation(n: Night) -> pd.DataFrame:
    sims = n.sims.loc[n.sims["deact_date"].notna(), ["iccid", "deact_date"]]
    u = n.lines("usage").merge(sims, on="iccid")
    u = u[u["period_start"] >= u["deact_date"]]
    key = ["iccid", "period_start"]
    return cases("USAGE_AFTER_DEACTIVATION", one_currency_sum(u, key, "currency", "cents"), key)


def duplicate_recurring_charge(n: Night) -> pd.DataFrame:
    r = n.lines("recurring")
    r = r[r["iccid"].notna()].sort_values(
        ["iccid", "currency", "period_start", "period_end", "line_id"]
    )
    sim = ((r["iccid"] != r["iccid"].shift()) | (r["currency"] != r["currency"].shift())).cumsum()
    reach = r["period_end"].groupby(sim.to_numpy()).cummax().groupby(sim.to_numpy()).shift(1)
    r = r.assign(grp=(reach.isna() | (r["period_start"] > reach)).cumsum())
    size = r.groupby("grp")["grp"].transform("size")
    multi = r[size >= 2].sort_values(["grp", "line_id"])
    g = multi.groupby("grp")
    out = pd.DataFrame(
        {
            "iccid": g["iccid"].first(),
            "period_start": g["period_start"].min(),
            "cents": g["cents"].sum() - g["cents"].first(),
        }
    )
    return cases("DUPLICATE_RECURRING_CHARGE", out, ["iccid", "period_start"])


def unbilled_active_line(n: Night) -> pd.DataFrame:
    b = n.billing
    rec = b[(b["business_date"] == n.day) & (b["charge_type"] == "recurring")]
    inv = (
        rec.groupby(["invoice_id", "account_id"])
        .agg(ps=("period_start", "min"), pe=("period_end", "max"))
        .reset_index()
    )
    s = n.sims[["iccid", "msisdn", "account_id", "act_date", "deact_date"]]
    cand = inv.merge(s[s["account_id"].notna()], on="account_id")
    cand = cand[
        cand["act_date"].notna()
        & (cand["act_date"] <= cand["ps"])
        & (cand["deact_date"].isna() | (cand["deact_date"] >= cand["pe"]))
    ]
    billed = rec[["invoice_id", "iccid"]].dropna().drop_duplicates()
    cand = cand.merge(billed, on=["invoice_id", "iccid"], how="left", indicator=True)
    cand = cand[cand["_merge"] == "left_only"].drop(columns="_merge")
    fired = cand.merge(n.fees_on(n.day), on="msisdn", how="left")
    out = one_currency_sum(fired, ["iccid", "ps"], "fee_currency", "fee_cents")
    return cases("UNBILLED_ACTIVE_LINE", out, ["iccid", "ps"])


def tariff_mismatch(n: Night) -> pd.DataFrame:
    r = n.lines("recurring")
    r = r[r["msisdn"].notna()]
    full = r["period_start"] + pd.DateOffset(months=1) - pd.Timedelta(days=1)
    lines = r[r["period_end"] == full].sort_values("period_start")
    daily = (
        n.contract()
        .sort_values(["transaction_ts", "transaction_id"])
        .drop_duplicates(["msisdn", "tx_date"], keep="last")[
            ["msisdn", "tx_date", "fee_cents", "currency"]
        ]
    )
    daily = daily.rename(columns={"currency": "fee_currency"}).sort_values("tx_date")
    m = pd.merge_asof(
        lines, daily, left_on="period_start", right_on="tx_date", by="msisdn", direction="backward"
    )
    m = m[m["fee_cents"].notna() & (m["fee_currency"] == m["currency"])]
    m = m.assign(cents=m["cents"] - m["fee_cents"].astype("int64"))
    m = m[m["cents"].abs() > 1]
    key = ["msisdn", "period_start"]
    return cases("TARIFF_MISMATCH", one_currency_sum(m, key, "currency", "cents"), key)


def unknown_sim_charged(n: Night) -> pd.DataFrame:
    b = n.billing[n.billing["iccid"].notna()]
    inv = n.sims[["iccid", "account_id"]].rename(columns={"account_id": "inv_account"})
    m = b.merge(inv, on="iccid", how="left")
    m = m[m["inv_account"].isna() | (m["inv_account"] != m["account_id"])]
    key = ["iccid", "invoice_id"]
    return cases("UNKNOWN_SIM_CHARGED", one_currency_sum(m, key, "currency", "cents"), key)


def swap_not_provisioned(n: Night) -> pd.DataFrame:
    t = n.tx[
        n.tx["action"].isin(["sim_swap", "cancel_line"])
        & (n.tx["tx_date"] <= n.day - pd.Timedelta(days=2))
    ]
    t = t.assign(removed=t["previous_iccid"].where(t["action"] == "sim_swap", t["iccid"]))
    active = n.sims.loc[n.sims["status"] == "active", ["iccid"]]
    fired = t.merge(active, left_on="removed", right_on="iccid", suffixes=("_tx", ""))
    return cases("SWAP_NOT_PROVISIONED", fired.assign(cents=pd.NA), ["transaction_id"])


def _latest(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return frame.sort_values(["transaction_ts", "transaction_id"]).drop_duplicates(by, keep="last")


def wrong_disconnect_letter(n: Night) -> pd.DataFrame:
    window_start = n.day - pd.Timedelta(days=59)
    acts = n.tx[n.tx["tx_date"] <= n.day]
    leaving = acts.loc[
        acts["action"].isin(LEAVING) & (acts["tx_date"] >= window_start), "customer_id"
    ].unique()
    contract = acts[acts["action"].isin(CONTRACT_ACTIONS)]
    per_line = ["customer_id", "msisdn"]
    before = _latest(contract[contract["tx_date"] < window_start], per_line)
    before = before.assign(cents=-before["fee_cents"].fillna(0))[
        ["customer_id", "currency", "cents"]
    ]
    after_contract = _latest(contract, per_line)[[*per_line, "fee_cents", "currency"]]
    last = _latest(acts, per_line)[[*per_line, "action"]]
    after = last.merge(after_contract, on=per_line, how="left")
    after["cents"] = after["fee_cents"].fillna(0).where(~after["action"].isin(LEAVING), 0)
    changes = pd.concat([after[["customer_id", "currency", "cents"]], before])
    changes = changes[changes["cents"] != 0]
    delta = changes.groupby(["customer_id", "currency"], dropna=False)["cents"].sum()
    raised = delta[delta > 0].index.get_level_values("customer_id").unique()
    active = n.active_customers()
    s = n.sims
    msisdns = s.loc[
        s["status"].isin(ACTIVE) & s["customer_id"].notna() & s["msisdn"].notna(),
        ["customer_id", "msisdn"],
    ].drop_duplicates()
    fees = msisdns.merge(n.fees_on(n.day), on="msisdn", how="left")
    exposure = fees.groupby("customer_id").agg(
        n_cur=("fee_currency", "nunique"), total=("fee_cents", lambda c: c.fillna(0).sum())
    )
    exposure = exposure.reindex(active, fill_value=0)
    exposure["cents"] = exposure["total"].astype("Int64").where(exposure["n_cur"] <= 1)
    letters = n.letters
    fired = letters[
        letters["letter_type"].isin(["disconnect_save", "winback"])
        & ~letters["trigger_reason"].isin(["disconnect_request", "port_out_request"])
        & letters["customer_id"].isin(active)
        & (~letters["customer_id"].isin(leaving) | letters["customer_id"].isin(raised))
    ]
    fired = fired.merge(exposure[["cents"]], left_on="customer_id", right_index=True, how="left")
    return cases("WRONG_DISCONNECT_LETTER", fired, ["letter_id"])


def letter_to_departed_customer(n: Night) -> pd.DataFrame:
    letters = n.letters
    fired = letters[
        (letters["letter_type"] != "winback") & ~letters["customer_id"].isin(n.active_customers())
    ]
    return cases("LETTER_TO_DEPARTED_CUSTOMER", fired.assign(cents=pd.NA), ["letter_id"])


RULES = {
    "CHARGE_AFTER_DEACTIVATION": charge_after_deactivation,
    "USAGE_AFTER_DEACTIVATION": usage_after_deactivation,
    "DUPLICATE_RECURRING_CHARGE": duplicate_recurring_charge,
    "UNBILLED_ACTIVE_LINE": unbilled_active_line,
    "TARIFF_MISMATCH": tariff_mismatch,
    "UNKNOWN_SIM_CHARGED": unknown_sim_charged,
    "SWAP_NOT_PROVISIONED": swap_not_provisioned,
    "WRONG_DISCONNECT_LETTER": wrong_disconnect_letter,
    "LETTER_TO_DEPARTED_CUSTOMER": letter_to_departed_customer,
}


def money_text(cents: object) -> str | None:
    if pd.isna(cents):
        return None
    c = int(cents)
    return f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}"


def evaluate(
    warehouse: str | Path, business_date: date, rules: list[str] | None = None
) -> pd.DataFrame:
    """The night's cases: case_id, rule_id, amount_at_risk (decimal text, None when none)."""
    night = Night(warehouse, business_date)
    out = pd.concat([RULES[r](night) for r in (rules or RULES)], ignore_index=True)
    out["amount_at_risk"] = pd.Series(
        [money_text(c) for c in out.pop("cents")], index=out.index, dtype=object
    )
    return out.sort_values(["rule_id", "case_id"], ignore_index=True)
