-- Everyday queries on the case store (PostgreSQL; tables in sql/case_store.sql).
-- Each query is one statement introduced by a `-- name:` line.

-- name: open_exposure_by_rule
-- Open and acknowledged cases per rule and currency, with the money at risk.
SELECT rule_id,
       severity,
       currency,
       count(*) AS cases,
       sum(amount_at_risk) AS amount_at_risk
FROM cases
WHERE status IN ('open', 'acknowledged')
GROUP BY rule_id, severity, currency
ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
         rule_id, currency;

-- name: open_case_ageing
-- Open and acknowledged cases by age in days (first_seen to the latest night recorded).
WITH latest AS (SELECT max(business_date) AS night FROM runs)
SELECT CASE
           WHEN latest.night - c.first_seen < 7 THEN '0-6 days'
           WHEN latest.night - c.first_seen < 30 THEN '7-29 days'
           WHEN latest.night - c.first_seen < 90 THEN '30-89 days'
           ELSE '90+ days'
       END AS age,
       c.status,
       count(*) AS cases
FROM cases AS c CROSS JOIN latest
WHERE c.status IN ('open', 'acknowledged')
GROUP BY 1, 2
ORDER BY min(latest.night - c.first_seen), c.status;

-- name: nightly_flow
-- What the pipeline did each night: cases created, closed as no longer detected, reopened.
SELECT business_date,
       count(*) FILTER (WHERE action = 'created') AS created,
       count(*) FILTER (WHERE action = 'closed') AS closed,
       count(*) FILTER (WHERE action = 'reopened') AS reopened,
       count(*) FILTER (WHERE action = 'details_changed') AS details_changed
FROM case_history
WHERE actor = 'recon'
GROUP BY business_date
ORDER BY business_date;

-- name: customer_hotspots
-- Customers with the most open or acknowledged cases, and their money at risk per currency.
SELECT customer_id,
       currency,
       count(*) AS cases,
       sum(amount_at_risk) AS amount_at_risk,
       min(first_seen) AS oldest_first_seen
FROM cases
WHERE status IN ('open', 'acknowledged') AND customer_id IS NOT NULL
GROUP BY customer_id, currency
ORDER BY cases DESC, amount_at_risk DESC NULLS LAST, customer_id
LIMIT 50;

-- name: unowned_high_severity
-- Critical and high cases still open that nobody owns, oldest first.
SELECT case_id, rule_id, severity, customer_id, amount_at_risk, currency, first_seen, last_seen
FROM cases
WHERE status = 'open' AND owner IS NULL AND severity IN ('critical', 'high')
ORDER BY first_seen, case_id;

-- name: triage_activity
-- Who changed what by hand in the last 30 days.
SELECT actor, action, count(*) AS changes, max(at) AS latest
FROM case_history
WHERE actor <> 'recon' AND at >= now() - interval '30 days'
GROUP BY actor, action
ORDER BY actor, action;
