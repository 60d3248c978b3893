"""Login throttling: failed logins counted per user name and per client address."""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginThrottle:
    """At most `limit` failed logins per user name and per client address in `window` seconds.

    Kept in the server process: a desk run as one process (what `recon serve` starts) sees
    every attempt.
    """

    def __init__(self, limit: int = 5, window: float = 300.0):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, client: str) -> tuple[str, str]:
        return f"user:{username.strip().lower()}", f"addr:{client}"

    def retry_after(self, username: str, client: str) -> int:
        """Seconds until a login may be tried again (0: now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in self._keys(username, client):
                times = self._failures.get(key)
                if not times:
                    continue
                while times and now - times[0] > self.window:
                    times.popleft()
                if len(times) >= self.limit:
                    wait = max(wait, self.window - (now - times[0]))
        return int(wait) + (1 if wait else 0)

    def failed(self, username: str, client: str) -> None:
        with self._lock:
            for key in self._keys(username, client):
                self._failures.setdefault(key, deque()).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(username, "")[0], None)
