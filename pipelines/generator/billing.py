"""Billing: the nightly bill runs of each cycle and the final credits of deactivated SIMs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from .dates import ONE_DAY, days_between, is_full_period, is_run_date, next_run, prev_run
from .money import CURRENCY, cents, money_text, prorate
from .reference_data import INSTALMENTS, PAPER_BILL, USAGE_DESCRIPTION
from .world import BillLine, Customer, Sim, World


def sim_line(
    sim: Sim,
    charge_type: str,
    start: date,
    end: date,
    amount: Decimal,
    tariff: str | None = None,
    description: str | None = None,
) -> BillLine:
    """A line charging `sim` (its current number)."""
    return BillLine(
        charge_type, start, end, amount, sim.iccid, sim.msisdn, tariff, description, sim
    )


def emit_invoice(world: World, customer: Customer, bill_run_id: str, lines: list[BillLine]) -> str:
    """Write `lines` as one invoice of `customer`; returns the invoice id."""
    invoice_id = world.ids.invoice()
    rows = world.rows["billing_lines"]
    for bl in lines:
        bl.line_id, bl.invoice_id = world.ids.line(), invoice_id
        rows.append(
            (
                bl.line_id,
                bill_run_id,
                invoice_id,
                customer.customer_id,
                customer.account_id,
                bl.msisdn,
                bl.iccid,
                bl.charge_type,
                bl.tariff_code,
                bl.description,
                bl.period_start.isoformat(),
                bl.period_end.isoformat(),
                money_text(bl.amount),
                CURRENCY,
            )
        )
    return invoice_id


def off_cycle_invoice(world: World, customer: Customer, lines: list[BillLine]) -> str:
    """An invoice outside the customer's cycle (credits, corrections)."""
    return emit_invoice(world, customer, f"BR-{world.day:%Y%m%d}-OFF", lines)


def final_credit(sim: Sim, day: date) -> BillLine | None:
    """The credit for the days of the last charged period from `day` (deactivation) on."""
    if sim.last_charge is None:
        return None
    start, end, amount = sim.last_charge
    if not start <= day <= end:
        return None
    refund = cents(prorate(amount, days_between(day, end), days_between(start, end)))
    return sim_line(sim, "credit", day, end, -refund, description="Credit: line closed early")


def final_credits(world: World) -> None:
    """Tonight's off-cycle credit invoices, one per account, for SIMs deactivated today."""
    credits: dict[Customer, list[BillLine]] = {}
    for sim in world.deactivated_today:
        credit = None if sim.withhold_credit else final_credit(sim, world.day)
        if credit is not None and sim.customer is not None:
            credits.setdefault(sim.customer, []).append(credit)
    for customer, lines in credits.items():
        off_cycle_invoice(world, customer, lines)


def bill_runs(world: World) -> None:
    """Every cycle whose bill run falls tonight bills each of its accounts."""
    for bill_day in sorted(world.by_bill_day):
        if is_run_date(world.day, bill_day):
            run_id = f"BR-{world.day:%Y%m%d}-D{bill_day:02d}"
            for customer in world.by_bill_day[bill_day]:
                lines = cycle_lines(world, customer)
                if customer.adjust_bill:
                    customer.adjust_bill(world.day, lines)
                if lines:
                    emit_invoice(world, customer, run_id, lines)
                for bl in lines:
                    if bl.charge_type == "recurring" and bl.sim and bl.period_start == world.day:
                        bl.sim.last_charge = (bl.period_start, bl.period_end, bl.amount)


def _usage(world: World) -> Decimal:
    return Decimal(world.rng.randint(40, 4200)) / 100


def cycle_lines(world: World, customer: Customer) -> list[BillLine]:
    """The invoice of a bill run on `world.day`.

    Each SIM active tonight: a recurring line for the coming period at the agreed fee, and
    a prorated one for the days since its activation if that was after the last run. Each
    SIM active during the past period: its usage. Then handset instalments and account fees.
    """
    day, bill_day = world.day, customer.bill_day
    prev, end = prev_run(day, bill_day), next_run(day, bill_day) - ONE_DAY
    lines: list[BillLine] = []
    for sim in customer.sims:
        line, activated_at = sim.line, sim.activated_at
        assert line is not None and activated_at is not None  # a customer's SIMs have both
        activated = activated_at.date()
        if sim.active:
            if prev < activated < day:
                tariff, fee = line.tariff_and_fee(activated)
                if not is_full_period(activated, day - ONE_DAY):
                    fee = cents(prorate(fee, (day - activated).days, (day - prev).days))
                lines.append(
                    sim_line(
                        sim,
                        "recurring",
                        activated,
                        day - ONE_DAY,
                        fee,
                        tariff,
                        "Monthly plan, part period",
                    )
                )
            tariff, fee = line.tariff_and_fee(day)
            lines.append(
                sim_line(sim, "recurring", day, end, fee, tariff, f"Monthly plan {tariff}")
            )
        used_from = max(prev, activated)
        used_to = day - ONE_DAY
        if sim.deactivated_at is not None:
            used_to = min(used_to, sim.deactivated_at.date() - ONE_DAY)
        if used_from <= used_to:
            lines.append(
                sim_line(
                    sim, "usage", used_from, used_to, _usage(world), description=USAGE_DESCRIPTION
                )
            )
    for plan in customer.instalments:
        if plan.paid < INSTALMENTS:
            plan.paid += 1
            lines.append(
                sim_line(
                    plan.line.sim,
                    "one_off",
                    day,
                    day,
                    plan.amount,
                    description=(f"Handset instalment {plan.paid}/{INSTALMENTS}, {plan.model}"),
                )
            )
    if customer.paper_bill and customer.has_active_sim():
        text, fee = PAPER_BILL
        lines.append(BillLine("one_off", day, end, fee, description=text))
    return lines
