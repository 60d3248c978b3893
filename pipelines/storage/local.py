"""A local folder as a Storage."""

from __future__ import annotations

import ctypes
import errno
import functools
import glob
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.storage.lock import file_lock

AT_FDCWD = -100
RENAME_EXCHANGE = 2
LEFTOVER = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{32}\.(?P<kind>partial|ready|old|staging)")


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
        """Write the file whole or not at all (a temporary file renamed into place; those
        an earlier write killed midway left are removed)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            stale.unlink(missing_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def replace_prefix(self, prefix: str, files: dict[str, bytes]) -> None:
        """Make `prefix` hold exactly `files`, never leaving it missing or half written.

        The new folder is written beside the old one (`.<name>.<hex>.partial`), renamed
        `.ready` once complete, then swapped with the old folder in one atomic exchange
        (renameat2 RENAME_EXCHANGE; where the system lacks it, two renames). What a crash
        leaves beside the folder is repaired first: see `_repair`.
        """
        target = self._path(prefix)
        _repair(target)
        token = uuid.uuid4().hex
        partial = target.with_name(f".{target.name}.{token}.partial")
        partial.mkdir(parents=True)
        for name, data in files.items():
            dest = partial / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        ready = target.with_name(f".{target.name}.{token}.ready")
        os.replace(partial, ready)
        if not target.exists():
            os.replace(ready, target)
        elif not _exchange(ready, target):
            old = target.with_name(f".{target.name}.{token}.old")
            os.replace(target, old)
            os.replace(ready, target)
            ready = old
        shutil.rmtree(ready, ignore_errors=True)

    @contextmanager
    def lock(self, key: str, purpose: str, wait: float) -> Iterator[None]:
        """Hold the lock file `key` (flock) while the block runs; LockBusy after `wait` s."""
        with file_lock(str(self._path(key)), purpose, wait):
            yield


@functools.cache
def _renameat2() -> Any:
    return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the system cannot (then nothing moved)."""
    rename = _renameat2()
    if rename is None:
        return False
    if rename(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _repair(target: Path) -> None:
    """Put right what a replace of `target` killed midway left beside it.

    The target missing (killed between the two renames where there is no exchange): the
    complete `.ready` folder becomes it, else the `.old` one comes back. Then every
    leftover (`.partial`, `.ready`, `.old`, and the `.staging` folders of earlier
    versions) is removed: the target holds a complete folder, old or new.
    """
    if not target.parent.is_dir():
        return
    leftovers: dict[str, list[Path]] = {"partial": [], "ready": [], "old": [], "staging": []}
    for path in target.parent.iterdir():
        match = LEFTOVER.fullmatch(path.name)
        if match and match.group("name") == target.name:
            leftovers[match.group("kind")].append(path)
    if not target.exists():
        for kind in ("ready", "old"):
            if leftovers[kind]:
                newest = max(leftovers[kind], key=lambda p: p.stat().st_mtime)
                os.replace(newest, target)
                leftovers[kind].remove(newest)
                break
    for paths in leftovers.values():
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)
