"""The S3 manifest sensor: imported only for an S3 landing zone (boto3 and the Amazon
provider cost about 150 ms and 350 modules at every parse)."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

from pipelines.airflow.config import AWS_CONN_ID
from pipelines.airflow.late_source import NamesLateSource


class S3ManifestSensor(NamesLateSource, S3KeySensor):
    """S3KeySensor (deferrable, connection `aws_default`) naming the late source."""

    template_fields = (*S3KeySensor.template_fields, "business_date")

    def __init__(self, *, source: str, business_date: str, **kwargs: Any):
        super().__init__(aws_conn_id=AWS_CONN_ID, deferrable=True, **kwargs)
        self.source, self.business_date = source, business_date

    @property
    def location(self) -> str:
        return str(self.bucket_key)

    def execute(self, context: Any) -> Any:
        self.log_wait()
        return super().execute(context)
