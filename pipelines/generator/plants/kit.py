"""What every plant uses: dedicated customers, cycles chosen around the last night,
scheduled actions, bill edits and the expected cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from ..billing import BillLine, off_cycle_invoice
from ..dates import at, runs_between
from ..ground_truth import Case
from ..money import money
from ..world import Customer, Line, World


class Ref:
    """A value a scheduled action produces (a transaction or letter id), read afterwards."""

    value: str


class Kit:
    """The plants' handle on the world: `first`/`last` are the first and last business dates."""

    def __init__(self, world: World, usual_bill_days: list[int]):
        self.world = world
        self.usual_bill_days = usual_bill_days
        self.first, self.last = world.start, world.last
        self._expected: list[Callable[[], list[Case]]] = []
        self._edits: dict[Customer, dict[date, list[Callable[[list[BillLine]], None]]]] = {}

    def day(self, offset: int) -> date:
        """`offset` days after the last business date (negative: before)."""
        return self.last + timedelta(days=offset)

    def cycle(
        self,
        run_in: tuple[date, date] | None = None,
        avoid: tuple[date, date] | None = None,
        latest_day: int = 28,
    ) -> tuple[int, date]:
        """A bill day with a run in `run_in` and none in `avoid` (default: the last night),
        one of the usual bill days when one fits.

        Returns the bill day and its first run in `run_in` (or its first run at all)."""
        avoid = avoid or (self.last, self.last)
        usual = [d for d in self.usual_bill_days if d <= latest_day]
        other = [d for d in range(1, latest_day + 1) if d not in usual]
        self.world.rng.shuffle(usual)
        self.world.rng.shuffle(other)
        for bill_day in usual + other:
            runs = runs_between(bill_day, self.first, self.last)
            if any(avoid[0] <= r <= avoid[1] for r in runs):
                continue
            hits = [r for r in runs if run_in is None or run_in[0] <= r <= run_in[1]]
            if hits:
                return bill_day, hits[0]
        raise RuntimeError(f"no bill day runs in {run_in} and not in {avoid}")

    def customer(self, bill_day: int, *lines: tuple[str, str, str]) -> tuple[Customer, list[Line]]:
        """A planted customer with lines (sim_type, tariff, fee) connected before the data."""
        rng = self.world.rng
        customer = self.world.add_customer(bill_day, planted=True)
        made = []
        for sim_type, tariff, fee in lines:
            connected = at(
                self.first - timedelta(days=rng.randint(60, 900)), rng.randrange(28_800, 72_000)
            )
            made.append(
                self.world.add_existing_line(customer, sim_type, tariff, money(fee), connected)
            )
        return customer, made

    def moment(self, day: date, minute: int = 600) -> datetime:
        return at(day, minute * 60)

    def on(self, day: date, action: Callable[[], object], phase: str = "events") -> None:
        self.world.on(day, phase, action)

    def agree(
        self,
        customer: Customer,
        line: Line,
        day: date,
        tariff: str,
        fee: str,
        action: str = "renewal",
    ) -> None:
        """A contract action on `day` that makes the line's fee known."""
        self.on(
            day,
            lambda: self.world.agree(
                customer,
                line,
                self.moment(day),
                action,
                self.world.channel("sale"),
                tariff,
                money(fee),
            ),
        )

    def end(
        self,
        customer: Customer,
        line: Line,
        day: date,
        action: str = "cancel_line",
        provision: bool = True,
        minute: int = 600,
    ) -> Ref:
        ref = Ref()

        def run() -> None:
            ref.value = self.world.end_line(
                customer,
                line,
                self.moment(day, minute),
                self.world.channel("leave"),
                action,
                provision,
            )

        self.on(day, run)
        return ref

    def swap(
        self, customer: Customer, line: Line, day: date, old_status: str = "swapped_out"
    ) -> Ref:
        ref = Ref()

        def run() -> None:
            ref.value = self.world.swap_sim(
                customer, line, self.moment(day, 660), self.world.channel("service"), old_status
            )

        self.on(day, run)
        return ref

    def letter(self, customer: Customer, letter_type: str, trigger: str) -> Ref:
        """A letter queued on the last night."""
        ref = Ref()

        def run() -> None:
            ref.value = self.world.queue_letter(customer, letter_type, trigger)

        self.on(self.last, run, "letters")
        return ref

    def edit_bill(
        self, customer: Customer, day: date, edit: Callable[[list[BillLine]], None]
    ) -> None:
        """Change the customer's cycle invoice of `day` before it is written."""
        edits = self._edits.setdefault(customer, {})
        edits.setdefault(day, []).append(edit)

        def adjust(bill_day: date, lines: list[BillLine]) -> None:
            for each in edits.get(bill_day, []):
                each(lines)

        customer.adjust_bill = adjust

    def off_cycle(self, customer: Customer, day: date, lines: Callable[[], list[BillLine]]) -> None:
        """An off-cycle invoice on `day`, its lines made then."""
        self.on(day, lambda: off_cycle_invoice(self.world, customer, lines()), "billing")

    def expect(self, cases: Callable[[], list[Case]]) -> None:
        """Cases to expect on the last night, computed once the world has run."""
        self._expected.append(cases)

    def cases(self) -> list[Case]:
        return [case for expected in self._expected for case in expected()]


def recurring(lines: list[BillLine], line: Line, start: date) -> BillLine:
    """The recurring line of `line`'s current SIM starting on `start`, in a bill."""
    return next(
        bl
        for bl in lines
        if bl.charge_type == "recurring" and bl.sim is line.sim and bl.period_start == start
    )


def plan(sim_type: str, amount: str) -> str:
    """A tariff code for a planted agreement: VOX-P2350 for a 23.50 voice plan."""
    return f"{'VOX' if sim_type == 'voice' else 'DAT'}-P{amount.replace('.', '')}"
