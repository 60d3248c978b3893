"""Deferrable sensors that wait for a source's `_manifest.json` and, when it is late,
fail with a message naming the source and the business date. The S3 one
(`pipelines.airflow.s3_sensor`, boto3 and the Amazon provider) is imported only for an S3
landing zone: the DAG file is parsed every 30 seconds."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSensorTimeout

from pipelines.airflow.late_source import NamesLateSource
from pipelines.airflow.triggers import ManifestFileTrigger
from pipelines.settings import DagSettings

log = logging.getLogger(__name__)


class LocalManifestSensor(NamesLateSource):
    """Waits, deferred, for a manifest in a local (or mounted) landing zone."""

    template_fields = ("path", "business_date")

    def __init__(self, *, source: str, path: str, business_date: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.source, self.path, self.business_date = source, path, business_date

    @property
    def location(self) -> str:
        return self.path

    def poke(self, context: Any) -> bool:
        return os.path.isfile(self.path)

    def execute(self, context: Any) -> None:
        if self.poke(context):
            log.info("found %s (source %s)", self.path, self.source)
            return
        self.log_wait()
        deadline = datetime.now(UTC) + timedelta(seconds=self.timeout)
        self.defer(
            trigger=ManifestFileTrigger(self.path, self.poke_interval, deadline.isoformat()),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Any, event: dict[str, str]) -> None:
        if event.get("status") != "found":
            raise AirflowSensorTimeout(f"no {self.path} by the deadline")
        log.info("found %s (source %s)", self.path, self.source)


def manifest_sensor(
    settings: DagSettings,
    *,
    task_id: str,
    source: str,
    location: Any,
    business_date: Any,
    **task_args: Any,
) -> BaseSensorOperator:
    """The sensor for one source's manifest: S3 or local, as RECON_LANDING says."""
    timing = {
        "timeout": settings.sensor_timeout,
        "poke_interval": settings.poke_interval,
        **task_args,
    }
    if settings.landing_on_s3:
        from pipelines.airflow.s3_sensor import S3ManifestSensor

        return S3ManifestSensor(
            task_id=task_id,
            source=source,
            bucket_key=location,
            business_date=business_date,
            **timing,
        )
    return LocalManifestSensor(
        task_id=task_id, source=source, path=location, business_date=business_date, **timing
    )
