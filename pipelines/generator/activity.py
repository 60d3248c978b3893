"""The organic world: customers as they were before the data starts, and their daily doings."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from .dates import ONE_DAY, at, runs_between
from .reference_data import HANDSETS, INSTALMENTS, TARIFFS
from .world import Customer, Instalment, Line, World

LINES_PER_CUSTOMER = ((1, 35), (2, 25), (3, 18), (4, 12), (5, 6), (6, 4))
EVENT_CHANCE = 0.02  # per customer per day, besides the scheduled renewals
EVENTS = (
    ("renewal", 22),
    ("upgrade", 12),
    ("downgrade", 7),
    ("new_line", 15),
    ("sim_swap", 12),
    ("handset_sale", 12),
    ("cancel_line", 9),
    ("port_out", 5),
    ("leave", 6),
)
RENEWING_SHARE = 0.5  # of the lines connected before the data starts, renewed within it
# Events timed against a customer's own bill run (days after it), which every world holds.
AROUND_BILL_RUNS = (
    ("sim_swap", 0),
    ("new_line", 0),
    ("cancel_line", 0),
    ("port_out", 0),
    ("upgrade", 0),
    ("cancel_line", 1),
    ("sim_swap", 1),
    ("new_line", 1),
    ("downgrade", 1),
    ("cancel_line", -1),
)


class Activity:
    """Organic customers and the events they cause each day."""

    def __init__(self, world: World, customers: int, bill_days: list[int]):
        self.world = world
        self.customers: list[Customer] = []
        self.planned: dict[date, list[tuple[Customer, str, Line | None]]] = defaultdict(list)
        rng, days = world.rng, (world.last - world.start).days + 1
        counts, weights = zip(*LINES_PER_CUSTOMER, strict=True)
        for _ in range(customers):
            customer = world.add_customer(rng.choice(bill_days), planted=False)
            customer.paper_bill = rng.random() < 0.15
            self.customers.append(customer)
            for _ in range(rng.choices(counts, weights)[0]):
                sim_type = "voice" if rng.random() < 0.75 else "data"
                tariff, fee = rng.choice(TARIFFS[sim_type])
                connected = at(
                    world.start - timedelta(days=rng.randint(20, 1200)),
                    rng.randrange(8 * 3600, 20 * 3600),
                )
                status = "suspended" if rng.random() < 0.02 else "active"
                line = world.add_existing_line(customer, sim_type, tariff, fee, connected, status)
                if rng.random() < RENEWING_SHARE:
                    self.planned[world.start + timedelta(days=rng.randrange(days))].append(
                        (customer, "renewal", line)
                    )
                if sim_type == "voice" and rng.random() < 0.2:
                    model, amount = rng.choice(HANDSETS)
                    paid = rng.randrange(1, INSTALMENTS - 1)
                    customer.instalments.append(Instalment(line, model, amount, paid))
        self._plan_around_bill_runs()

    def _plan_around_bill_runs(self) -> None:
        """Give a few customers with several lines the events that sit next to a bill run."""
        world = self.world
        several = [c for c in self.customers if len(c.lines) > 1]
        chosen = world.rng.sample(several, min(len(several), len(AROUND_BILL_RUNS)))
        for customer, (kind, offset) in zip(chosen, AROUND_BILL_RUNS, strict=False):
            runs = runs_between(customer.bill_day, world.start + ONE_DAY, world.last - ONE_DAY)
            day = world.rng.choice(runs) + timedelta(days=offset)
            self.planned[day].append((customer, kind, None))

    def run_day(self) -> None:
        """Today's organic events, in the order of their timestamps."""
        world, rng = self.world, self.world.rng
        planned = {id(c): (kind, line) for c, kind, line in self.planned.pop(world.day, [])}
        names, weights = zip(*EVENTS, strict=True)
        intents = []
        for index, customer in enumerate(self.customers):
            if not customer.open_lines():
                continue
            if id(customer) in planned:
                kind, line = planned[id(customer)]
                if line is not None and line.ended is not None:
                    continue
            elif rng.random() < EVENT_CHANCE:
                kind, line = rng.choices(names, weights)[0], None
            else:
                continue
            intents.append((rng.randrange(8 * 3600, 20 * 3600), index, kind, line))
        for seconds, index, kind, line in sorted(intents, key=lambda i: (i[0], i[1])):
            self._event(self.customers[index], kind, line, seconds)

    def _event(self, customer: Customer, kind: str, line: Line | None, seconds: int) -> None:
        world, rng = self.world, self.world.rng
        moment = at(world.day, seconds)
        lines = customer.open_lines()
        line = line or rng.choice(lines)
        sim_type = line.sim.sim_type
        if kind in ("renewal", "upgrade", "downgrade"):
            current = line.tariff_and_fee(world.day)[1]
            options = {
                "renewal": TARIFFS[sim_type],
                "upgrade": [t for t in TARIFFS[sim_type] if t[1] > current],
                "downgrade": [t for t in TARIFFS[sim_type] if t[1] < current],
            }[kind]
            if not options:
                kind, options = "renewal", TARIFFS[sim_type]
            tariff, fee = rng.choice(options)
            world.agree(
                customer,
                line,
                moment,
                kind,
                world.channel("sale"),
                tariff,
                fee,
                rng.choice((12, 24, 24, 36)),
            )
        elif kind == "new_line" and len(lines) < 6:
            sim_type = "voice" if rng.random() < 0.6 else "data"
            tariff, fee = rng.choice(TARIFFS[sim_type])
            world.open_line(customer, moment, world.channel("sale"), sim_type, tariff, fee)
        elif kind == "sim_swap":
            old_status = "lost_stolen" if rng.random() < 0.2 else "swapped_out"
            world.swap_sim(customer, line, moment, world.channel("service"), old_status)
        elif kind == "handset_sale":
            model, amount = rng.choice(HANDSETS)
            world.sell_handset(customer, line, moment, world.channel("sale"), model, amount)
        elif kind in ("cancel_line", "port_out") and len(lines) > 1:
            world.end_line(customer, line, moment, world.channel("leave"), kind)
            if rng.random() < 0.5:
                trigger = "port_out_request" if kind == "port_out" else "line_cancelled"
                customer.winback = (world.day + timedelta(days=rng.randint(1, 10)), trigger)
        elif kind == "leave":
            action = "port_out" if rng.random() < 0.4 else "cancel_line"
            channel = world.channel("leave")
            for offset, leaving in enumerate(lines):
                world.end_line(
                    customer, leaving, moment + timedelta(seconds=45 * offset), channel, action
                )
            if rng.random() < 0.6:
                trigger = "port_out_request" if action == "port_out" else "line_cancelled"
                customer.winback = (world.day + timedelta(days=rng.randint(2, 14)), trigger)
