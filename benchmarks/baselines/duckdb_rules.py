"""The nine rules of catalogue v1 in DuckDB SQL over the curated Parquet (docs/rule-semantics.md).

Amounts are exact: integer cents (BIGINT/HUGEINT); the prorated share of
CHARGE_AFTER_DEACTIVATION is summed over a common denominator per case key (the lcm of its
lines' period lengths) and rounded half-even to a cent at the end.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

CONTRACT_ACTIONS = "('new_line', 'renewal', 'upgrade', 'downgrade')"
ACTIVE = "('active', 'suspended')"

MACROS = """
CREATE MACRO case_id(txt) AS substr(sha256(txt), 1, 16);
CREATE MACRO k(v) AS coalesce(CAST(v AS VARCHAR), '');
CREATE MACRO money(c) AS CASE WHEN c IS NOT NULL THEN
    (CASE WHEN c < 0 THEN '-' ELSE '' END) || CAST(abs(c) // 100 AS VARCHAR) || '.'
    || lpad(CAST(abs(c) % 100 AS VARCHAR), 2, '0') END;
CREATE MACRO half_even(num, den) AS num // den + CASE
    WHEN 2 * (num % den) > den OR (2 * (num % den) = den AND (num // den) % 2 = 1) THEN 1
    ELSE 0 END;
"""

# "Summed when the rows share one currency": polars' n_unique counts null as a value.
ONE_CURRENCY_SUM = """CASE WHEN count(DISTINCT {cur}) + (count(*) > count({cur}))::INT = 1
    AND count({cents}) = count(*) THEN sum({cents}) END"""


def _views(curated: Path, day: date) -> str:
    def history(source: str) -> str:
        return (
            f"read_parquet('{curated}/{source}/business_date=*/data.parquet', "
            f"hive_partitioning = true, hive_types = {{'business_date': DATE}})"
        )

    def snapshot(source: str) -> str:
        return f"read_parquet('{curated}/{source}/business_date={day}/data.parquet')"

    return f"""
CREATE VIEW billing AS SELECT *, CAST(amount * 100 AS BIGINT) AS cents
    FROM {history("billing_lines")} WHERE business_date <= DATE '{day}';
CREATE VIEW tx AS SELECT *, CAST(transaction_ts AS DATE) AS tx_date,
    CAST(monthly_fee * 100 AS BIGINT) AS fee_cents
    FROM {history("store_transactions")} WHERE business_date <= DATE '{day}';
CREATE VIEW contract AS SELECT * FROM tx WHERE action IN {CONTRACT_ACTIONS};
CREATE VIEW sims AS SELECT *, CAST(activated_at AS DATE) AS act_date,
    CAST(deactivated_at AS DATE) AS deact_date FROM {snapshot("sim_inventory")};
CREATE VIEW letters AS SELECT * FROM {snapshot("retention_campaigns")};
CREATE VIEW fees_tonight AS SELECT msisdn, fee_cents, currency AS fee_currency FROM contract
    WHERE tx_date <= DATE '{day}'
    QUALIFY row_number() OVER (PARTITION BY msisdn
                               ORDER BY transaction_ts DESC, transaction_id DESC) = 1;
CREATE VIEW active AS SELECT DISTINCT customer_id FROM sims
    WHERE status IN {ACTIVE} AND customer_id IS NOT NULL;
"""


def _rules(day: date) -> dict[str, str]:
    """Per rule: a query of (key_text, cents), key_text = rule id and key values joined."""
    d = f"DATE '{day}'"
    window_start = f"DATE '{day - timedelta(days=59)}'"
    grace = f"DATE '{day - timedelta(days=2)}'"
    return {
        "CHARGE_AFTER_DEACTIVATION": """
WITH charged AS (
    SELECT b.iccid, b.period_start, b.period_end, b.currency, b.cents,
        (b.period_end - greatest(b.period_start, s.deact_date)) + 1 AS inactive,
        (b.period_end - b.period_start) + 1 AS days
    FROM billing b JOIN sims s ON s.iccid = b.iccid
    WHERE b.charge_type = 'recurring' AND s.deact_date IS NOT NULL
        AND s.deact_date <= b.period_end),
keys AS (
    SELECT iccid, period_start, list_reduce(list(days), lambda a, b: lcm(a, b)) AS den
    FROM charged GROUP BY iccid, period_start HAVING count(DISTINCT currency) = 1),
prorated AS (
    SELECT c.iccid, c.period_start, k.den,
        sum(CAST(c.cents AS HUGEINT) * c.inactive * (k.den // c.days)) AS num
    FROM charged c JOIN keys k USING (iccid, period_start)
    GROUP BY c.iccid, c.period_start, k.den),
credits AS (
    SELECT DISTINCT c.iccid, c.period_start, cr.line_id, cr.cents
    FROM charged c JOIN billing cr ON cr.iccid = c.iccid AND cr.currency = c.currency
    WHERE cr.charge_type = 'credit' AND cr.period_start <= c.period_end
        AND cr.period_end >= c.period_start),
net AS (
    SELECT p.iccid, p.period_start, p.den,
        p.num + CAST(coalesce(sum(cr.cents), 0) AS HUGEINT) * p.den AS num
    FROM prorated p LEFT JOIN credits cr USING (iccid, period_start)
    GROUP BY p.iccid, p.period_start, p.den, p.num)
SELECT concat_ws('|', 'CHARGE_AFTER_DEACTIVATION', k(iccid), k(period_start)) AS key_text,
    CAST(half_even(num, den) AS BIGINT) AS cents
FROM net WHERE num > den""",
        "USAGE_AFTER_DEACTIVATION": f"""
SELECT concat_ws('|', 'USAGE_AFTER_DEACTIVATION', k(b.iccid), k(b.period_start)) AS key_text,
    {ONE_CURRENCY_SUM.format(cur="b.currency", cents="b.cents")} AS cents
FROM billing b JOIN sims s ON s.iccid = b.iccid
WHERE b.charge_type = 'usage' AND s.deact_date IS NOT NULL AND b.period_start >= s.deact_date
GROUP BY b.iccid, b.period_start""",
        "DUPLICATE_RECURRING_CHARGE": """
WITH ordered AS (
    SELECT iccid, currency, period_start, period_end, line_id, cents,
        max(period_end) OVER (PARTITION BY iccid, currency
            ORDER BY period_start, period_end, line_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM billing WHERE charge_type = 'recurring' AND iccid IS NOT NULL),
grouped AS (
    SELECT *, sum(CASE WHEN reach IS NULL OR period_start > reach THEN 1 ELSE 0 END)
        OVER (PARTITION BY iccid, currency ORDER BY period_start, period_end, line_id
              ROWS UNBOUNDED PRECEDING) AS grp
    FROM ordered)
SELECT concat_ws('|', 'DUPLICATE_RECURRING_CHARGE', k(iccid), k(min(period_start))) AS key_text,
    sum(cents) - arg_min(cents, line_id) AS cents
FROM grouped GROUP BY iccid, currency, grp HAVING count(*) >= 2""",
        "UNBILLED_ACTIVE_LINE": f"""
WITH recurring AS (
    SELECT * FROM billing WHERE business_date = {d} AND charge_type = 'recurring'),
invoices AS (
    SELECT invoice_id, account_id, min(period_start) AS ps, max(period_end) AS pe
    FROM recurring GROUP BY invoice_id, account_id),
missing AS (
    SELECT s.iccid, i.ps, s.msisdn FROM invoices i JOIN sims s ON s.account_id = i.account_id
    WHERE s.act_date IS NOT NULL AND s.act_date <= i.ps
        AND (s.deact_date IS NULL OR s.deact_date >= i.pe)
        AND NOT EXISTS (SELECT 1 FROM recurring r
                        WHERE r.invoice_id = i.invoice_id AND r.iccid = s.iccid))
SELECT concat_ws('|', 'UNBILLED_ACTIVE_LINE', k(m.iccid), k(m.ps)) AS key_text,
    {ONE_CURRENCY_SUM.format(cur="f.fee_currency", cents="f.fee_cents")} AS cents
FROM missing m LEFT JOIN fees_tonight f ON f.msisdn = m.msisdn
GROUP BY m.iccid, m.ps""",
        "TARIFF_MISMATCH": f"""
WITH daily AS (
    SELECT msisdn, tx_date, fee_cents, currency AS fee_currency FROM contract
    QUALIFY row_number() OVER (PARTITION BY msisdn, tx_date
                               ORDER BY transaction_ts DESC, transaction_id DESC) = 1),
lines AS (
    SELECT msisdn, period_start, currency, cents FROM billing
    WHERE charge_type = 'recurring' AND msisdn IS NOT NULL
        AND period_end = CAST(period_start + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE)),
fired AS (
    SELECT l.msisdn, l.period_start, l.currency, l.cents - f.fee_cents AS cents
    FROM lines l ASOF JOIN daily f ON l.msisdn = f.msisdn AND l.period_start >= f.tx_date
    WHERE f.fee_cents IS NOT NULL AND f.fee_currency = l.currency
        AND abs(l.cents - f.fee_cents) > 1)
SELECT concat_ws('|', 'TARIFF_MISMATCH', k(msisdn), k(period_start)) AS key_text,
    {ONE_CURRENCY_SUM.format(cur="currency", cents="cents")} AS cents
FROM fired GROUP BY msisdn, period_start""",
        "UNKNOWN_SIM_CHARGED": f"""
SELECT concat_ws('|', 'UNKNOWN_SIM_CHARGED', k(b.iccid), k(b.invoice_id)) AS key_text,
    {ONE_CURRENCY_SUM.format(cur="b.currency", cents="b.cents")} AS cents
FROM billing b LEFT JOIN sims s ON s.iccid = b.iccid
WHERE b.iccid IS NOT NULL AND (s.account_id IS NULL OR s.account_id <> b.account_id)
GROUP BY b.iccid, b.invoice_id""",
        "SWAP_NOT_PROVISIONED": f"""
SELECT concat_ws('|', 'SWAP_NOT_PROVISIONED', k(t.transaction_id)) AS key_text,
    NULL::BIGINT AS cents
FROM tx t JOIN sims s
    ON s.iccid = CASE WHEN t.action = 'sim_swap' THEN t.previous_iccid ELSE t.iccid END
WHERE t.action IN ('sim_swap', 'cancel_line') AND t.tx_date <= {grace}
    AND s.status = 'active'""",
        "WRONG_DISCONNECT_LETTER": f"""
WITH acts AS (SELECT * FROM tx WHERE tx_date <= {d}),
leaving AS (
    SELECT DISTINCT customer_id FROM acts
    WHERE action IN ('cancel_line', 'port_out') AND tx_date >= {window_start}),
before AS (
    SELECT customer_id, coalesce(fee_cents, 0) AS cents, currency FROM acts
    WHERE action IN {CONTRACT_ACTIONS} AND tx_date < {window_start}
    QUALIFY row_number() OVER (PARTITION BY customer_id, msisdn
                               ORDER BY transaction_ts DESC, transaction_id DESC) = 1),
after_contract AS (
    SELECT customer_id, msisdn, coalesce(fee_cents, 0) AS cents, currency FROM acts
    WHERE action IN {CONTRACT_ACTIONS}
    QUALIFY row_number() OVER (PARTITION BY customer_id, msisdn
                               ORDER BY transaction_ts DESC, transaction_id DESC) = 1),
last_action AS (
    SELECT customer_id, msisdn, action FROM acts
    QUALIFY row_number() OVER (PARTITION BY customer_id, msisdn
                               ORDER BY transaction_ts DESC, transaction_id DESC) = 1),
after AS (
    SELECT l.customer_id, ac.currency,
        CASE WHEN l.action IN ('cancel_line', 'port_out') THEN 0
             ELSE coalesce(ac.cents, 0) END AS cents
    FROM last_action l LEFT JOIN after_contract ac USING (customer_id, msisdn)),
changes AS (
    SELECT customer_id, currency, cents FROM after
    UNION ALL SELECT customer_id, currency, -cents FROM before),
raised AS (
    SELECT customer_id FROM (
        SELECT customer_id, currency, sum(cents) AS delta FROM changes WHERE cents <> 0
        GROUP BY customer_id, currency)
    GROUP BY customer_id HAVING bool_or(delta > 0)),
active_msisdns AS (
    SELECT DISTINCT customer_id, msisdn FROM sims
    WHERE status IN {ACTIVE} AND customer_id IS NOT NULL AND msisdn IS NOT NULL),
exposure AS (
    SELECT a.customer_id, CASE WHEN count(DISTINCT f.fee_currency) <= 1
        THEN sum(coalesce(f.fee_cents, 0)) END AS cents
    FROM active a LEFT JOIN active_msisdns m USING (customer_id)
        LEFT JOIN fees_tonight f ON f.msisdn = m.msisdn
    GROUP BY a.customer_id)
SELECT concat_ws('|', 'WRONG_DISCONNECT_LETTER', k(l.letter_id)) AS key_text, e.cents
FROM letters l JOIN active a USING (customer_id) LEFT JOIN exposure e USING (customer_id)
WHERE l.letter_type IN ('disconnect_save', 'winback')
    AND l.trigger_reason NOT IN ('disconnect_request', 'port_out_request')
    AND (NOT EXISTS (SELECT 1 FROM leaving v WHERE v.customer_id = l.customer_id)
         OR EXISTS (SELECT 1 FROM raised r WHERE r.customer_id = l.customer_id))""",
        "LETTER_TO_DEPARTED_CUSTOMER": """
SELECT concat_ws('|', 'LETTER_TO_DEPARTED_CUSTOMER', k(l.letter_id)) AS key_text,
    NULL::BIGINT AS cents
FROM letters l WHERE l.letter_type <> 'winback'
    AND NOT EXISTS (SELECT 1 FROM active a WHERE a.customer_id = l.customer_id)""",
    }


RULE_IDS = tuple(_rules(date(2024, 1, 1)))


def evaluate(
    warehouse: str | Path, business_date: date, rules: list[str] | None = None
) -> pl.DataFrame:
    """The night's cases: case_id, rule_id, amount_at_risk (decimal text, null when none)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(MACROS + _views(Path(warehouse).resolve() / "curated", business_date))
        queries = _rules(business_date)
        union = "\nUNION ALL\n".join(f"({queries[r]})" for r in (rules or RULE_IDS))
        return con.sql(f"""
            SELECT case_id(key_text) AS case_id, split_part(key_text, '|', 1) AS rule_id,
                money(cents) AS amount_at_risk
            FROM ({union}) ORDER BY rule_id, case_id""").pl()
    finally:
        con.close()
