"""A warehouse's lock as a PostgreSQL advisory lock, when the case store is PostgreSQL.

The lock belongs to a session of its own (a dedicated connection, not pooled), so the
server releases it when the holder's connection ends, however the holder ended.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from pipelines.storage.lock import LockBusy, holder, poll

TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
UNLOCK = text("SELECT pg_advisory_unlock(:key)")
# The session holding the lock, and who it said it was (its application_name).
HOLDER = text(
    "SELECT a.application_name, a.backend_start FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.classid::bigint = :high AND l.objid::bigint = :low"
)
APPLICATION_NAME_MAX = 63


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def advisory_key(name: str) -> int:
    """A signed 64-bit key for a warehouse's root URI."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def advisory_lock(db_url: str, name: str, purpose: str, wait: float) -> Iterator[None]:
    """Hold the advisory lock of `name` (a warehouse's root URI) while the block runs."""
    key = advisory_key(name)
    me = holder(purpose)
    label = f"recon {me['purpose']} pid {me['pid']}@{me['host']}"
    engine = create_engine(
        db_url,
        poolclass=NullPool,
        hide_parameters=True,
        connect_args={"application_name": label[:APPLICATION_NAME_MAX]},
    )
    try:
        with engine.connect() as conn:

            def try_lock() -> bool:
                got = bool(conn.scalar(TRY_LOCK, {"key": key}))
                conn.commit()  # a session lock: it outlives the transaction
                return got

            def busy(waited: float) -> LockBusy:
                return LockBusy(f"warehouse {name}", _holder(conn, key), waited)

            poll(try_lock, wait, busy)
            try:
                yield
            finally:
                conn.execute(UNLOCK, {"key": key})
                conn.commit()
    finally:
        engine.dispose()


def _holder(conn: Connection, key: int) -> str:
    """Who holds the key: the application name its session gave, and since when."""
    row = conn.execute(HOLDER, {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}).first()
    conn.commit()
    return f"{row[0]} since {row[1]:%Y-%m-%dT%H:%M:%S%z}" if row else ""
