"""Plants of the billing rules: dedicated customers whose bills go wrong on purpose, and
near misses that must not fire. One function per scenario, so closures keep their dates."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from ..billing import final_credit, sim_line
from ..dates import ONE_DAY, at, days_between, is_full_period, next_run, prev_run
from ..ground_truth import Case
from ..money import cents, money, prorate
from ..reference_data import USAGE_DESCRIPTION
from ..world import BillLine
from .kit import Kit, plan, recurring

CAD, UAD = "CHARGE_AFTER_DEACTIVATION", "USAGE_AFTER_DEACTIVATION"
DUP, UAL = "DUPLICATE_RECURRING_CHARGE", "UNBILLED_ACTIVE_LINE"
TM, USC = "TARIFF_MISMATCH", "UNKNOWN_SIM_CHARGED"


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _period_end(run: date, bill_day: int) -> date:
    return next_run(run, bill_day) - ONE_DAY


# -- CHARGE_AFTER_DEACTIVATION -------------------------------------------------------------


def _cancelled_without_credit(kit: Kit) -> None:
    """Case: cancelled nine days into a charged period; the final credit never came."""
    bill_day, run = kit.cycle(run_in=(kit.day(-50), kit.day(-20)))
    customer, (line,) = kit.customer(bill_day, ("voice", "VOX-L-22", "22.50"))
    kit.agree(customer, line, kit.first + _days(1), "VOX-L-24", "23.99")
    sim, gone, end = line.sim, run + _days(9), _period_end(run, bill_day)
    sim.withhold_credit = True
    kit.end(customer, line, gone)
    kit.expect(
        lambda: [
            Case.priced(
                CAD,
                (sim.iccid, run),
                customer.customer_id,
                cents(prorate(money("23.99"), days_between(gone, end), days_between(run, end))),
            )
        ]
    )


def _credit_too_small(kit: Kit) -> None:
    """Case: cancelled five days in; a flat 10.00 goodwill credit instead of the prorated one."""
    bill_day, run = kit.cycle(run_in=(kit.day(-45), kit.day(-15)))
    customer, (line,) = kit.customer(bill_day, ("voice", "VOX-XL-31", "31.50"))
    sim, gone, end = line.sim, run + _days(5), _period_end(run, bill_day)
    sim.withhold_credit = True
    kit.end(customer, line, gone)
    kit.off_cycle(
        customer,
        gone,
        lambda: [
            sim_line(sim, "credit", gone, end, money("-10.00"), description="Credit: goodwill")
        ],
    )
    kit.expect(
        lambda: [
            Case.priced(
                CAD,
                (sim.iccid, run),
                customer.customer_id,
                cents(
                    prorate(money("31.50"), days_between(gone, end), days_between(run, end)) - 10
                ),
            )
        ]
    )


def _billed_after_cancellation(kit: Kit) -> None:
    """Case: cancelled (and credited) twelve days into a period, then billed the next one."""
    bill_day, run = kit.cycle(run_in=(kit.day(-25), kit.day(-3)))
    customer, (line,) = kit.customer(bill_day, ("data", "DAT-100GB", "16.50"))
    kit.agree(customer, line, kit.first + _days(2), "DAT-50GB-P", "15.00")
    kit.end(customer, line, prev_run(run, bill_day) + _days(12))
    sim, rebilled = line.sim, []

    def bill_again(lines: list[BillLine]) -> None:
        rebilled.append(
            sim_line(
                sim,
                "recurring",
                run,
                _period_end(run, bill_day),
                money("15.00"),
                "DAT-50GB-P",
                "Monthly plan DAT-50GB-P",
            )
        )
        lines.append(rebilled[0])

    kit.edit_bill(customer, run, bill_again)
    kit.expect(
        lambda: [Case.priced(CAD, (sim.iccid, run), customer.customer_id, rebilled[0].amount)]
    )


def _credited_later(kit: Kit) -> None:
    """No case tonight: cancelled without credit, credited correctly six days later (the
    engine closes the case it opened as no_longer_detected)."""
    bill_day, run = kit.cycle(run_in=(kit.day(-45), kit.day(-20)))
    customer, (line,) = kit.customer(bill_day, ("voice", "VOX-M-17", "17.25"))
    sim, gone = line.sim, run + _days(3)
    sim.withhold_credit = True
    kit.end(customer, line, gone)
    kit.off_cycle(customer, gone + _days(6), lambda: [c for c in [final_credit(sim, gone)] if c])


def _credit_leaves_residual(kit: Kit) -> None:
    """Near miss: the final credit, rounded to cents, leaves a residual below 0.01."""
    bill_day, run = kit.cycle(run_in=(kit.day(-40), kit.day(-10)))
    customer, (line,) = kit.customer(bill_day, ("voice", "VOX-M-18", "18.50"))
    kit.agree(customer, line, kit.first + _days(1), "VOX-M-20", "19.99")
    kit.end(customer, line, run + _days(7))


def _ended_day_after_period(kit: Kit) -> None:
    """Near miss: deactivated on a bill day, the day after the charged period ends."""
    bill_day, run = kit.cycle(run_in=(kit.day(-30), kit.day(-2)))
    customer, (line,) = kit.customer(bill_day, ("voice", "VOX-L-21", "21.00"))
    kit.agree(customer, line, kit.first + _days(3), "VOX-L-21", "21.00")
    kit.end(customer, line, run, minute=540)


# -- USAGE_AFTER_DEACTIVATION --------------------------------------------------------------


def _usage_after(kit: Kit, swap: bool, delay: int, offset: int, amount: str) -> None:
    """Usage billed on the next run from `offset` days after a cancel (or swap) on the
    `delay`-th day of a period; a case when it starts on or after the deactivation."""
    bill_day, run = kit.cycle(run_in=(kit.day(-25), kit.day(-2)))
    customer, (line,) = kit.customer(bill_day, ("voice", "VOX-M-15", "15.00"))
    sim, gone = line.sim, prev_run(run, bill_day) + _days(delay)
    if swap:
        kit.swap(customer, line, gone)
    else:
        kit.end(customer, line, gone)
    start = gone + _days(offset)
    usage = sim_line(
        sim, "usage", start, run - ONE_DAY, money(amount), description=USAGE_DESCRIPTION
    )
    kit.edit_bill(customer, run, lambda lines: lines.append(usage))
    if offset >= 0:
        kit.expect(
            lambda: [Case.priced(UAD, (sim.iccid, start), customer.customer_id, usage.amount)]
        )


# -- DUPLICATE_RECURRING_CHARGE ------------------------------------------------------------


def _group_case(customer_id: str, iccid: str, start: date, group: list[BillLine]) -> Case:
    """The group's amount: every line but the one with the smallest line_id."""
    ordered = sorted(group, key=lambda bl: bl.line_id or "")
    return Case.priced(
        DUP, (iccid, start), customer_id, sum((bl.amount for bl in ordered[1:]), money("0"))
    )


def _charged_twice(kit: Kit) -> None:
    """Case: the same period charged twice in one invoice."""
    bill_day, run = kit.cycle(run_in=(kit.day(-40), kit.day(-5)))
    customer, (line,) = kit.customer(bill_day, ("voice", "VOX-L-27", "27.99"))
    kit.agree(customer, line, kit.first + _days(2), "VOX-L-27", "27.50")
    sim, pair = line.sim, list[BillLine]()

    def double(lines: list[BillLine]) -> None:
        original = recurring(lines, line, run)
        pair.extend((original, dataclasses.replace(original)))
        lines.append(pair[1])

    kit.edit_bill(customer, run, double)
    kit.expect(lambda: [_group_case(customer.customer_id, sim.iccid, run, pair)])


def _overlap_chain(kit: Kit) -> None:
    """Case: a re-rated part period overlapping two cycle charges, one group of three lines.
    The cycle's charges before and after stay adjacent to it (near misses)."""
    bill_day, third = kit.cycle(run_in=(kit.day(-25), kit.day(-1)), latest_day=20)
    second = prev_run(third, bill_day)
    customer, (line,) = kit.customer(bill_day, ("data", "DAT-50GB", "12.00"))
    kit.agree(customer, line, kit.first + _days(1), "DAT-50GB", "12.00")
    sim, chain = line.sim, []
    extra_start, extra_end = second + _days(5), third + _days(2)
    assert not is_full_period(extra_start, extra_end)
    kit.edit_bill(customer, second, lambda lines: chain.append(recurring(lines, line, second)))
    kit.edit_bill(customer, third, lambda lines: chain.append(recurring(lines, line, third)))

    def rerated() -> list[BillLine]:
        chain.append(
            sim_line(
                sim,
                "recurring",
                extra_start,
                extra_end,
                money("9.90"),
                "DAT-50GB",
                "Monthly plan DAT-50GB, re-rated",
            )
        )
        return [chain[-1]]

    kit.off_cycle(customer, extra_start, rerated)
    kit.expect(lambda: [_group_case(customer.customer_id, sim.iccid, second, chain)])


# -- UNBILLED_ACTIVE_LINE ------------------------------------------------------------------


def _left_off_invoice(
    kit: Kit, lines: tuple[tuple[str, str, str], ...], agreed: dict[int, str], left_out: int
) -> None:
    """Case on the last night: one SIM missing from its account's invoice; the amount is its
    agreed fee, or null when none is known."""
    last = kit.last
    customer, made = kit.customer(last.day, *lines)
    for index, amount in agreed.items():
        kit.agree(
            customer,
            made[index],
            kit.first + _days(3 + index),
            plan(lines[index][0], amount),
            amount,
        )
    line = made[left_out]
    sim = line.sim
    kit.edit_bill(customer, last, lambda bill: bill.remove(recurring(bill, line, last)))

    def case() -> list[Case]:
        agreed_fee = line.agreed_fee(last)
        if agreed_fee is None:
            return [Case(UAL, (sim.iccid, last), customer.customer_id)]
        return [Case.priced(UAL, (sim.iccid, last), customer.customer_id, agreed_fee)]

    kit.expect(case)


def _ended_on_bill_day(kit: Kit) -> None:
    """Near misses on the last night's bill run: a line cancelled and one swapped that day."""
    last = kit.last
    customer, (cancelled, swapped, _) = kit.customer(
        last.day,
        ("voice", "VOX-M-15", "15.00"),
        ("voice", "VOX-L-22", "22.50"),
        ("data", "DAT-5GB", "5.00"),
    )
    kit.end(customer, cancelled, last, minute=560)
    kit.swap(customer, swapped, last)


# -- TARIFF_MISMATCH -----------------------------------------------------------------------


def _mispriced(
    kit: Kit,
    base: tuple[str, str, str],
    agreed: str,
    billed: str,
    window: tuple[int, int],
    upgrade: str | None = None,
) -> None:
    """A full period billed at `billed` while `agreed` (or the `upgrade` four days before
    the run) was agreed; a case when they differ by more than 0.01."""
    bill_day, run = kit.cycle(run_in=(kit.day(window[0]), kit.day(window[1])))
    customer, (line,) = kit.customer(bill_day, base)
    kit.agree(customer, line, kit.first + _days(1), plan(base[0], agreed), agreed)
    if upgrade:
        kit.agree(customer, line, run - _days(4), plan(base[0], upgrade), upgrade, "upgrade")
    charged: list[BillLine] = []

    def misprice(lines: list[BillLine]) -> None:
        charged.append(recurring(lines, line, run))
        charged[0].amount = money(billed)

    kit.edit_bill(customer, run, misprice)
    if abs(money(billed) - (money(upgrade or agreed))) > money("0.01"):

        def expected() -> list[Case]:
            fee_then = line.agreed_fee(run)  # known once the world has run
            assert fee_then is not None  # the plant agreed a fee before the run
            amount = charged[0].amount - fee_then
            return [Case.priced(TM, (line.msisdn, run), customer.customer_id, amount)]

        kit.expect(expected)


def _part_period_at_full_fee(kit: Kit) -> None:
    """Near miss: a data line joined 12 days before a run, its part period at the full fee."""
    world = kit.world
    bill_day, run = kit.cycle(run_in=(kit.day(-40), kit.day(-3)))
    customer, _ = kit.customer(bill_day, ("voice", "VOX-M-15", "15.00"))
    joined, added = run - _days(12), []
    kit.on(
        joined,
        lambda: added.append(
            world.open_line(
                customer,
                at(joined, 43_200),
                world.channel("sale"),
                "data",
                "DAT-20GB",
                money("9.99"),
            )
        ),
    )

    def full_fee(lines: list[BillLine]) -> None:
        recurring(lines, added[0], joined).amount = money("9.99")

    kit.edit_bill(customer, run, full_fee)


# -- UNKNOWN_SIM_CHARGED -------------------------------------------------------------------


def _foreign_sim(kit: Kit) -> None:
    """Case: a partner network's SIM (plan and usage) on a customer's invoice."""
    world = kit.world
    bill_day, run = kit.cycle(run_in=(kit.day(-40), kit.day(-3)))
    customer, _ = kit.customer(bill_day, ("voice", "VOX-M-15", "15.00"))
    iccid, msisdn = world.ids.iccid("893301"), world.ids.foreign_msisdn()
    foreign = [
        BillLine(
            "recurring",
            run,
            _period_end(run, bill_day),
            money("9.00"),
            iccid,
            msisdn,
            "ROAM-PLUS",
            "Monthly plan ROAM-PLUS",
        ),
        BillLine(
            "usage",
            prev_run(run, bill_day),
            run - ONE_DAY,
            money("3.27"),
            iccid,
            msisdn,
            description=USAGE_DESCRIPTION,
        ),
    ]
    kit.edit_bill(customer, run, lambda lines: lines.extend(foreign))
    kit.expect(
        lambda: [
            Case.priced(
                USC,
                (iccid, foreign[0].invoice_id),
                customer.customer_id,
                sum((bl.amount for bl in foreign), money("0")),
            )
        ]
    )


def _other_accounts_sim(kit: Kit) -> None:
    """Case: another customer's SIM charged a handset instalment."""
    _, (victim,) = kit.customer(kit.cycle()[0], ("voice", "VOX-L-22", "22.50"))
    bill_day, run = kit.cycle(run_in=(kit.day(-40), kit.day(-3)))
    customer, _ = kit.customer(bill_day, ("voice", "VOX-M-18", "18.50"))
    wrong = sim_line(
        victim.sim,
        "one_off",
        run,
        run,
        money("49.99"),
        description="Handset instalment 4/24, Galaxy S24, 256GB",
    )
    kit.edit_bill(customer, run, lambda lines: lines.append(wrong))
    kit.expect(
        lambda: [
            Case.priced(USC, (wrong.iccid, wrong.invoice_id), customer.customer_id, wrong.amount)
        ]
    )


def _sim_in_stock(kit: Kit) -> None:
    """Case: a credit to a SIM still in stock. Near miss beside it: an account-level fee."""
    spare = kit.world.new_sim("voice", at(kit.first - _days(30), 32_400))
    bill_day, run = kit.cycle(run_in=(kit.day(-40), kit.day(-3)))
    customer, _ = kit.customer(bill_day, ("data", "DAT-50GB", "12.00"))
    credit = BillLine(
        "credit",
        run,
        _period_end(run, bill_day),
        money("-5.00"),
        spare.iccid,
        description="Credit: faulty SIM",
    )
    late_fee = BillLine("one_off", run, run, money("3.00"), description="Late payment fee")
    kit.edit_bill(customer, run, lambda lines: lines.extend((credit, late_fee)))
    kit.expect(
        lambda: [
            Case.priced(USC, (spare.iccid, credit.invoice_id), customer.customer_id, credit.amount)
        ]
    )


def charge_after_deactivation(kit: Kit) -> None:
    _cancelled_without_credit(kit)
    _credit_too_small(kit)
    _billed_after_cancellation(kit)
    _credited_later(kit)
    _credit_leaves_residual(kit)
    _ended_day_after_period(kit)


def usage_after_deactivation(kit: Kit) -> None:
    _usage_after(kit, swap=False, delay=10, offset=0, amount="8.37")
    _usage_after(kit, swap=True, delay=6, offset=3, amount="2.15")
    _usage_after(kit, swap=False, delay=8, offset=-1, amount="4.40")  # near miss


def duplicate_recurring_charge(kit: Kit) -> None:
    _charged_twice(kit)
    _overlap_chain(kit)


def unbilled_active_line(kit: Kit) -> None:
    voice, data = ("voice", "VOX-M-15", "15.00"), ("data", "DAT-5GB", "5.00")
    _left_off_invoice(
        kit, (voice, data, ("voice", "VOX-L-22", "22.50")), {0: "20.00", 2: "14.50"}, left_out=2
    )
    _left_off_invoice(kit, (voice, ("data", "DAT-20GB", "9.99")), {0: "16.00"}, left_out=1)
    _ended_on_bill_day(kit)


def tariff_mismatch(kit: Kit) -> None:
    _mispriced(kit, ("voice", "VOX-L-22", "22.50"), "25.00", "25.00", (-40, -3), "32.00")
    _mispriced(kit, ("voice", "VOX-M-18", "18.50"), "18.00", "18.02", (-40, -3))
    _mispriced(kit, ("data", "DAT-20GB", "9.99"), "9.99", "12.49", (-65, -35))
    _mispriced(kit, ("voice", "VOX-L-22", "22.50"), "22.00", "22.01", (-40, -3))  # near miss
    _part_period_at_full_fee(kit)


def unknown_sim_charged(kit: Kit) -> None:
    _foreign_sim(kit)
    _other_accounts_sim(kit)
    _sim_in_stock(kit)
