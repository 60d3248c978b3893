"""The trigger behind the local manifest sensor (runs in Airflow's triggerer)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class ManifestFileTrigger(BaseTrigger):
    """Fires when a local file exists, or with status "timeout" at the deadline (so a
    trigger run in line, as `airflow dags test` does, ends too)."""

    def __init__(self, path: str, poke_interval: float, deadline: str):
        super().__init__()
        self.path, self.poke_interval, self.deadline = path, poke_interval, deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{__name__}.ManifestFileTrigger",
            {"path": self.path, "poke_interval": self.poke_interval, "deadline": self.deadline},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = datetime.fromisoformat(self.deadline)
        while not os.path.isfile(self.path):
            left = (deadline - datetime.now(UTC)).total_seconds()
            if left <= 0:
                yield TriggerEvent({"status": "timeout"})
                return
            await asyncio.sleep(min(self.poke_interval, left))
        yield TriggerEvent({"status": "found"})
