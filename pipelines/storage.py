"""One storage interface for landing zones and warehouses: local folders and S3 prefixes.

Every path handed to a `Storage` is a '/'-separated key relative to its root URI.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import uuid
from pathlib import Path
from typing import Protocol

import polars as pl


class Storage(Protocol):
    """What the pipeline needs of a place that holds files."""

    root: str

    def uri(self, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def read_bytes(self, key: str) -> bytes: ...
    def sha256(self, key: str) -> str: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def replace_prefix(self, prefix: str, files: dict[str, bytes]) -> None: ...

    @property
    def storage_options(self) -> dict[str, str] | None: ...


class LocalStorage:
    """A local folder."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = str(Path(root).expanduser().resolve())

    @property
    def storage_options(self) -> None:
        return None

    def _path(self, key: str) -> Path:
        return Path(self.root, *[p for p in key.split("/") if p])

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list(self, prefix: str) -> list[str]:
        """Keys of the files below `prefix`, sorted, relative to the root."""
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self._path(key).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def replace_prefix(self, prefix: str, files: dict[str, bytes]) -> None:
        """Make `prefix` hold exactly `files`, swapping the folder in one rename."""
        target = self._path(prefix)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}.staging")
        staging.mkdir(parents=True)
        for name, data in files.items():
            dest = staging / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)


def open_storage(uri: str, **s3_options: str | None) -> Storage:
    """The storage behind a URI: `s3://bucket/prefix` or a local path (or `file://` URI).

    `s3_options` (endpoint_url, region, aws_access_key_id, aws_secret_access_key,
    aws_session_token) go to S3Storage and override the AWS environment; local paths
    ignore them.
    """
    if uri.startswith("s3://"):
        from pipelines.s3storage import S3Storage  # boto3 only when S3 is used

        return S3Storage(uri, **s3_options)
    if "://" in uri and not uri.startswith("file://"):
        raise ValueError(f"unsupported storage URI: {uri}")
    return LocalStorage(uri.removeprefix("file://"))


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    """A frame as Parquet bytes (deterministic: no timestamps in the file)."""
    buf = io.BytesIO()
    frame.write_parquet(buf, statistics=False)
    return buf.getvalue()
