"""A local folder as a Storage."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path


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

    def list_keys(self, prefix: str) -> list[str]:
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
