"""The desk's settings, resolved once from the environment (or given by tests)."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import date

from pipelines.catalogue import DEFAULT_SLA_DAYS

LOCAL_HOST = "127.0.0.1"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class DeskConfig:
    """What `recon serve` runs with.

    secret_key          signs the session cookies (RECON_SECRET_KEY); None: an ephemeral key,
                        and the server binds 127.0.0.1 only
    trusted_user_header a header naming the logged-in account, set by a single-sign-on
                        proxy (RECON_TRUSTED_USER_HEADER); honoured only from trusted_proxies
                        (RECON_TRUSTED_PROXIES, comma-separated addresses or networks)
    """

    db_url: str
    warehouse: str | None = None
    secret_key: str | None = None
    sla_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SLA_DAYS))
    trusted_user_header: str | None = None
    trusted_proxies: tuple[Network, ...] = ()
    cookie_secure: bool = False
    session_hours: int = 12
    today: date | None = None  # fixed "today" for tests and screenshots

    @property
    def ephemeral_key(self) -> bool:
        return not self.secret_key

    def signing_key(self) -> str:
        return self.secret_key or _EPHEMERAL

    def trusts(self, host: str | None) -> bool:
        """Is `host` (a client address) one of the trusted proxies?"""
        if not self.trusted_user_header or not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_proxies)


_EPHEMERAL = secrets.token_urlsafe(32)
