"""What every manifest sensor shares: a timeout that names the late source and the
business date, and a log line saying what is awaited and until when."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSensorTimeout

log = logging.getLogger(__name__)


class NamesLateSource(BaseSensorOperator):
    """Turns a sensor timeout into "source X is late for business date D"."""

    source: str
    business_date: str

    @property
    def location(self) -> str:
        """Where the manifest is awaited."""
        raise NotImplementedError

    def log_wait(self) -> None:
        """Say what is awaited and until when (the deferral itself logs neither)."""
        until = datetime.now(UTC) + timedelta(seconds=self.timeout)
        log.info(
            "waiting for %s: source %s, business date %s, until %s (%g s), checking every %g s",
            self.location,
            self.source,
            self.business_date,
            until.isoformat(timespec="seconds"),
            self.timeout,
            self.poke_interval,
        )

    def late_message(self) -> str:
        return (
            f"source {self.source} is late for business date {self.business_date}: "
            f"{self.location} did not arrive within {self.timeout:g} s"
        )

    def resume_execution(
        self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any
    ) -> Any:
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as exc:
            raise AirflowSensorTimeout(self.late_message()) from exc
