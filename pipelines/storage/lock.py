"""One run at a time per warehouse (contract section 4): who holds a lock, and the error
a run gets when another holds it longer than it may wait.

Local folders lock a file with flock (the kernel releases it when its process dies, so a
lock is never stale); S3 writes a lock object only if none exists (If-None-Match) and
keeps it alive with a lease (a crashed holder's lease runs out); a PostgreSQL case store
takes an advisory lock instead (pipelines.casestore.lock).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

POLL_SECONDS = 0.2


class LockBusy(Exception):
    """Another run holds the warehouse's lock; the message says who and since when."""

    def __init__(self, what: str, holder: str, waited: float):
        super().__init__(
            f"{what} is locked by another recon run ({holder or 'holder unknown'}); "
            f"gave up after waiting {waited:.0f}s (--lock-wait / RECON_LOCK_WAIT)"
        )


def holder(purpose: str) -> dict[str, object]:
    """Who is taking a lock: user, host, process, what for and when."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {
        "purpose": purpose,
        "user": user,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def describe(doc: object) -> str:
    """A lock holder as one readable phrase."""
    if not isinstance(doc, dict):
        return ""
    return (
        f"{doc.get('purpose', '?')} by {doc.get('user', '?')}@{doc.get('host', '?')} "
        f"pid {doc.get('pid', '?')} since {doc.get('since', '?')}"
    )


def holder_text(raw: bytes) -> str:
    try:
        return describe(json.loads(raw))
    except ValueError:
        return ""


def poll(try_lock: Callable[[], bool], wait: float, busy: Callable[[float], LockBusy]) -> None:
    """Call `try_lock` until it succeeds; after `wait` seconds raise `busy(waited)`."""
    start = time.monotonic()
    while not try_lock():
        waited = time.monotonic() - start
        if waited >= wait:
            raise busy(waited)
        time.sleep(min(POLL_SECONDS, max(wait - waited, 0.01)))


@contextmanager
def file_lock(path: str, purpose: str, wait: float) -> Iterator[None]:
    """An exclusive flock on `path` (created if missing), holder written into it."""
    import fcntl

    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:

        def try_lock() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        def busy(waited: float) -> LockBusy:
            with open(path, "rb") as fh:
                return LockBusy(
                    f"warehouse {os.path.dirname(path)}", holder_text(fh.read()), waited
                )

        poll(try_lock, wait, busy)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder(purpose)).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
