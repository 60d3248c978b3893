"""The simulated operator: customers, lines and SIMs, and the actions that change them.

Every action writes the rows the source systems would deliver (store transactions,
letters) into the rows of the day; inventory rows are read off the SIMs each night.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from pipelines.contract import ACTIVE_STATUSES, CONTRACT_ACTIONS

from .dates import at, ts_text
from .identifiers import Ids
from .money import CURRENCY, money_text
from .reference_data import AGENTS, CHANNEL_MIX, LETTER_CHANNELS, STORES

STOCK_LOW, STOCK_BATCH = 15, 40
ENDING_ACTIONS = ("cancel_line", "port_out")


class Channel(NamedTuple):
    channel: str
    store_id: str | None
    agent_id: str | None


class Action(NamedTuple):
    """A store action of a customer, as the commitment reading needs it."""

    day: date
    msisdn: str
    action: str
    fee: Decimal | None


@dataclass(eq=False)
class Sim:
    """One SIM card and its inventory state; `row()` is its inventory snapshot row."""

    iccid: str
    sim_type: str
    status: str
    status_changed_at: datetime
    line: Line | None = None
    customer: Customer | None = None
    activated_at: datetime | None = None
    deactivated_at: datetime | None = None
    last_charge: tuple[date, date, Decimal] | None = None  # latest cycle charge: start, end, amount
    withhold_credit: bool = False  # a plant: no final credit when deactivated
    _row: tuple[str | None, ...] | None = field(default=None, repr=False)

    def update(self, **changes: object) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self._row = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def msisdn(self) -> str | None:
        return self.line.msisdn if self.line else None

    def row(self) -> tuple[str | None, ...]:
        if self._row is None:
            c = self.customer
            self._row = (
                self.iccid,
                self.msisdn,
                c.customer_id if c else None,
                c.account_id if c else None,
                self.sim_type,
                self.status,
                ts_text(self.activated_at),
                ts_text(self.deactivated_at),
                ts_text(self.status_changed_at),
            )
        return self._row


@dataclass(eq=False)
class BillLine:
    """One billing line before it is written; ids are set when its invoice is emitted."""

    charge_type: str
    period_start: date
    period_end: date
    amount: Decimal
    iccid: str | None = None
    msisdn: str | None = None
    tariff_code: str | None = None
    description: str | None = None
    sim: Sim | None = None  # the SIM charged, for bookkeeping
    line_id: str | None = None
    invoice_id: str | None = None


@dataclass(eq=False)
class Line:
    """A phone number of a customer: its current SIM and its agreed fees over time."""

    msisdn: str
    sim: Sim
    base_tariff: str  # billed while no contract action is known (the store data starts late)
    base_fee: Decimal
    agreements: list[tuple[date, str, Decimal]] = field(default_factory=list)
    ended: date | None = None

    def agreed_fee(self, day: date) -> Decimal | None:
        """The fee of the latest contract action on or before `day`, None when none."""
        for when, _, fee in reversed(self.agreements):
            if when <= day:
                return fee
        return None

    def tariff_and_fee(self, day: date) -> tuple[str, Decimal]:
        """What the billing system charges for the line on `day`."""
        for when, tariff, fee in reversed(self.agreements):
            if when <= day:
                return tariff, fee
        return self.base_tariff, self.base_fee


@dataclass(eq=False)
class Instalment:
    line: Line
    model: str
    amount: Decimal
    paid: int


@dataclass(eq=False)
class Customer:
    """A CRM customer with one billing account."""

    customer_id: str
    account_id: str
    bill_day: int
    planted: bool
    lines: list[Line] = field(default_factory=list)
    sims: list[Sim] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    instalments: list[Instalment] = field(default_factory=list)
    paper_bill: bool = False
    adjust_bill: Callable[[date, list[BillLine]], None] | None = None  # a plant's edit of a bill
    winback: tuple[date, str] | None = None  # a winback letter to queue: on, trigger

    def open_lines(self) -> list[Line]:
        return [ln for ln in self.lines if ln.ended is None]

    def has_active_sim(self) -> bool:
        return any(s.active for s in self.sims)


class World:
    """All customers and SIMs, the day being simulated and the rows it has produced."""

    def __init__(self, seed: int, start: date, last: date, customers: int):
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self.start, self.last = start, last
        self._customer_ids = [self.ids.customer() for _ in range(customers)]
        self.rng.shuffle(self._customer_ids)
        self.customers: list[Customer] = []
        self.by_bill_day: dict[int, list[Customer]] = {}
        self.inventory: list[Sim] = []
        self.stock: dict[str, deque[Sim]] = {"voice": deque(), "data": deque()}
        self.hooks: dict[tuple[date, str], list[Callable[[], object]]] = {}
        self.day = start
        self.rows: dict[str, list[tuple[str | None, ...]]] = {}
        self.deactivated_today: list[Sim] = []

    # -- the day ---------------------------------------------------------------------------

    def begin_day(self, day: date) -> None:
        self.day = day
        self.rows = {"store_transactions": [], "billing_lines": [], "retention_campaigns": []}
        self.deactivated_today = []
        for sim_type, pool in self.stock.items():
            if len(pool) < STOCK_LOW:
                delivered = at(day, 6 * 3600)
                pool.extend(self.new_sim(sim_type, delivered) for _ in range(STOCK_BATCH))

    def on(self, day: date, phase: str, hook: Callable[[], object]) -> None:
        """Run `hook` on `day` in `phase` (events, billing or letters)."""
        self.hooks.setdefault((day, phase), []).append(hook)

    def run_hooks(self, phase: str) -> None:
        for hook in self.hooks.pop((self.day, phase), []):
            hook()

    def channel(self, kind: str) -> Channel:
        names, weights = zip(*CHANNEL_MIX[kind], strict=True)
        name = self.rng.choices(names, weights)[0]
        store = self.rng.choice(STORES) if name == "store" else None
        agent = None if name == "online" else self.rng.choice(AGENTS)
        return Channel(name, store, agent)

    # -- SIMs and customers ----------------------------------------------------------------

    def new_sim(self, sim_type: str, received: datetime, issuer: str = "894420") -> Sim:
        """A SIM delivered into stock (listed by the inventory from now on)."""
        sim = Sim(self.ids.iccid(issuer), sim_type, "in_stock", received)
        self.inventory.append(sim)
        return sim

    def _activate(self, customer: Customer, line: Line, sim: Sim, moment: datetime) -> None:
        sim.update(
            line=line,
            customer=customer,
            status="active",
            activated_at=moment,
            status_changed_at=moment,
        )
        customer.sims.append(sim)

    def add_customer(self, bill_day: int, planted: bool) -> Customer:
        customer_id, account_id = self._customer_ids.pop()
        customer = Customer(customer_id, account_id, bill_day, planted)
        self.customers.append(customer)
        self.by_bill_day.setdefault(bill_day, []).append(customer)
        return customer

    def add_existing_line(
        self,
        customer: Customer,
        sim_type: str,
        tariff: str,
        fee: Decimal,
        activated: datetime,
        status: str = "active",
    ) -> Line:
        """A line that was connected before the store data starts (its fee is not known)."""
        sim = self.new_sim(sim_type, activated)
        line = Line(self.ids.msisdn(), sim, tariff, fee)
        customer.lines.append(line)
        self._activate(customer, line, sim, activated)
        if status != "active":
            sim.update(status=status, status_changed_at=activated.replace(hour=23))
        return line

    def _take_sim(self, sim_type: str) -> Sim:
        pool = self.stock[sim_type]
        if not pool:
            pool.extend(self.new_sim(sim_type, at(self.day, 6 * 3600)) for _ in range(STOCK_BATCH))
        return pool.popleft()

    # -- store actions ---------------------------------------------------------------------

    def _transact(
        self,
        customer: Customer,
        line: Line,
        moment: datetime,
        action: str,
        channel: Channel,
        iccid: str | None,
        previous_iccid: str | None = None,
        tariff: str | None = None,
        fee: Decimal | None = None,
        months: int | None = None,
    ) -> str:
        transaction_id = self.ids.transaction()
        self.rows["store_transactions"].append(
            (
                transaction_id,
                ts_text(moment),
                *channel,
                customer.customer_id,
                customer.account_id,
                line.msisdn,
                iccid,
                previous_iccid,
                action,
                tariff,
                None if fee is None else money_text(fee),
                None if months is None else str(months),
                CURRENCY if fee is not None else None,
            )
        )
        customer.actions.append(Action(moment.date(), line.msisdn, action, fee))
        return transaction_id

    def agree(
        self,
        customer: Customer,
        line: Line,
        moment: datetime,
        action: str,
        channel: Channel,
        tariff: str,
        fee: Decimal,
        months: int = 24,
    ) -> str:
        """A contract action on an existing line: renewal, upgrade or downgrade."""
        assert action in CONTRACT_ACTIONS
        line.agreements.append((moment.date(), tariff, fee))
        return self._transact(
            customer,
            line,
            moment,
            action,
            channel,
            line.sim.iccid,
            tariff=tariff,
            fee=fee,
            months=months,
        )

    def open_line(
        self,
        customer: Customer,
        moment: datetime,
        channel: Channel,
        sim_type: str,
        tariff: str,
        fee: Decimal,
        months: int = 24,
    ) -> Line:
        """new_line: a new number on a SIM from stock."""
        sim = self._take_sim(sim_type)
        line = Line(self.ids.msisdn(), sim, tariff, fee, [(moment.date(), tariff, fee)])
        customer.lines.append(line)
        self._activate(customer, line, sim, moment)
        self._transact(
            customer,
            line,
            moment,
            "new_line",
            channel,
            sim.iccid,
            tariff=tariff,
            fee=fee,
            months=months,
        )
        return line

    def swap_sim(
        self,
        customer: Customer,
        line: Line,
        moment: datetime,
        channel: Channel,
        old_status: str = "swapped_out",
    ) -> str:
        """sim_swap: same number on a new SIM. `old_status` other than swapped_out or
        lost_stolen leaves the old SIM not deactivated (an unprovisioned swap)."""
        old, new = line.sim, self._take_sim(line.sim.sim_type)
        self._activate(customer, line, new, moment)
        line.sim = new
        if old_status in ("swapped_out", "lost_stolen"):
            old.update(status=old_status, deactivated_at=moment, status_changed_at=moment)
            self.deactivated_today.append(old)
        elif old_status != old.status:
            old.update(status=old_status, status_changed_at=moment)
        return self._transact(customer, line, moment, "sim_swap", channel, new.iccid, old.iccid)

    def end_line(
        self,
        customer: Customer,
        line: Line,
        moment: datetime,
        channel: Channel,
        action: str = "cancel_line",
        provision: bool = True,
    ) -> str:
        """cancel_line or port_out; without `provision` the SIM stays active."""
        assert action in ENDING_ACTIONS
        line.ended = moment.date()
        sim = line.sim
        if provision:
            sim.update(status="deactivated", deactivated_at=moment, status_changed_at=moment)
            self.deactivated_today.append(sim)
        return self._transact(customer, line, moment, action, channel, sim.iccid)

    def sell_handset(
        self,
        customer: Customer,
        line: Line,
        moment: datetime,
        channel: Channel,
        model: str,
        instalment: Decimal,
    ) -> str:
        """handset_sale, paid in monthly instalments on the following bills."""
        customer.instalments.append(Instalment(line, model, instalment, 0))
        return self._transact(customer, line, moment, "handset_sale", channel, line.sim.iccid)

    # -- letters ---------------------------------------------------------------------------

    def queue_letter(
        self,
        customer: Customer,
        letter_type: str,
        trigger: str,
        msisdn: str | None = None,
    ) -> str:
        """A retention letter queued tonight, sent 1 to 14 days later."""
        letter_id = self.ids.letter()
        names = [name for name, _ in LETTER_CHANNELS]
        weights = [weight for _, weight in LETTER_CHANNELS]
        send = self.day.toordinal() + self.rng.randint(1, 14)
        self.rows["retention_campaigns"].append(
            (
                f"CMP-{self.day:%Y%m}-{letter_type.upper()}",
                letter_id,
                letter_type,
                customer.customer_id,
                customer.account_id,
                msisdn,
                trigger,
                date.fromordinal(send).isoformat(),
                self.rng.choices(names, weights)[0],
            )
        )
        return letter_id
