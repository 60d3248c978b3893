"""One storage interface for landing zones and warehouses: local folders and S3 prefixes.

Every path handed to a `Storage` is a '/'-separated key relative to its root URI
(keys themselves are built by `pipelines.layout`).
"""

from __future__ import annotations

import io
from contextlib import AbstractContextManager
from typing import Protocol

import polars as pl

from pipelines.storage.local import LocalStorage, NotARegularFile

__all__ = ["LocalStorage", "NotARegularFile", "Storage", "open_storage", "parquet_bytes"]


class Storage(Protocol):
    """What the pipeline needs of a place that holds files."""

    root: str

    def uri(self, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def versions(self, prefix: str) -> dict[str, str]: ...
    def read_bytes(self, key: str) -> bytes: ...
    def sha256(self, key: str) -> str: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def replace_prefix(self, prefix: str, files: dict[str, bytes]) -> None: ...
    def lock(self, key: str, purpose: str, wait: float) -> AbstractContextManager[None]: ...

    @property
    def storage_options(self) -> dict[str, str] | None: ...


def open_storage(uri: str, **s3_options: str | None) -> Storage:
    """The storage behind a URI: `s3://bucket/prefix` or a local path (or `file://` URI).

    `s3_options` (endpoint_url, region, aws_access_key_id, aws_secret_access_key,
    aws_session_token) go to S3Storage and override the AWS environment; local paths
    ignore them.
    """
    if uri.startswith("s3://"):
        from pipelines.storage.s3 import S3Storage  # boto3 only when S3 is used

        return S3Storage(uri, **s3_options)
    if "://" in uri and not uri.startswith("file://"):
        raise ValueError(f"unsupported storage URI: {uri}")
    return LocalStorage(uri.removeprefix("file://"))


def parquet_bytes(frame: pl.DataFrame, statistics: bool = False) -> bytes:
    """A frame as Parquet bytes (deterministic: no timestamps in the file); `statistics`
    writes each row group's minimum and maximum, which let a filtered scan skip it."""
    buf = io.BytesIO()
    frame.write_parquet(buf, statistics=statistics)
    return buf.getvalue()
