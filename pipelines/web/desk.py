"""What every request of the desk works with: the store, accounts, queue and warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pipelines.casestore.accounts import Accounts
from pipelines.casestore.audit import AuditLog
from pipelines.casestore.queue import Queue
from pipelines.casestore.store import CaseStore
from pipelines.casestore.triage import Triage
from pipelines.storage import Storage, open_storage
from pipelines.web.auth_throttle import LoginThrottle
from pipelines.web.config import DeskConfig


class NotFound(LookupError):
    """Nothing at this address (a customer, a night or a file that is not there)."""


@dataclass
class Desk:
    """What every request works with."""

    config: DeskConfig
    store: CaseStore
    accounts: Accounts
    queue: Queue
    triage: Triage
    audit: AuditLog
    warehouse: Storage | None
    throttle: LoginThrottle

    @property
    def today(self) -> date:
        return self.config.today or date.today()


def open_desk(config: DeskConfig) -> Desk:
    store = CaseStore(config.db_url)
    accounts = Accounts(store.engine)
    return Desk(
        config=config,
        store=store,
        accounts=accounts,
        queue=Queue(store.engine, config.sla_days, config.today),
        triage=Triage(store, accounts),
        audit=AuditLog(store.engine),
        warehouse=open_storage(config.warehouse) if config.warehouse else None,
        throttle=LoginThrottle(),
    )
