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
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.storage.lock import file_lock

AT_FDCWD = -100
RENAME_EXCHANGE = 2
LEFTOVER = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{32}\.(?P<kind>partial|ready|old|staging)")
# Links are never followed; a FIFO never blocks the open (it is refused after).
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class NotARegularFile(Exception):
    """A key below the root that is a link or a special file: never followed, never read."""

    def __init__(self, key: str, what: str):
        super().__init__(f"{key}: {what}, refused (only regular files inside the folder are read)")
        self.key = key
        self.what = what


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
        """Keys of the files below `prefix`, sorted, relative to the root.

        Links are not followed: one below the root raises NotARegularFile. Folders that
        vanish while they are listed (another process replacing them) are skipped.
        """
        return sorted(self._stats(prefix))

    def versions(self, prefix: str) -> dict[str, str]:
        """The files below `prefix` (as list_keys), each with a tag that changes when the
        file is written again: its inode, size and times (every write makes a new file
        beside the old one, so it never takes over the inode of the file it replaces)."""
        return {
            key: f"{s.st_ino}:{s.st_size}:{s.st_mtime_ns}:{s.st_ctime_ns}"
            for key, s in sorted(self._stats(prefix).items())
        }

    def _stats(self, prefix: str) -> dict[str, os.stat_result]:
        parts = [p for p in prefix.split("/") if p]
        try:
            fd = self._open_dir(parts)
        except (FileNotFoundError, NotADirectoryError):
            return {}
        found: dict[str, os.stat_result] = {}
        _walk(fd, "/".join(parts), found)
        return found

    def read_bytes(self, key: str) -> bytes:
        with os.fdopen(self._open_file(key), "rb") as fh:
            return fh.read()

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with os.fdopen(self._open_file(key), "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def _open_dir(self, parts: list[str]) -> int:
        """A descriptor of the folder `parts` below the root, reached without following a
        link (NotARegularFile names the first link met)."""
        fd = os.open(self.root, DIR_FLAGS & ~os.O_NOFOLLOW)  # the root was resolved
        try:
            for i, name in enumerate(parts):
                below = _open_at(fd, name, DIR_FLAGS, "/".join(parts[: i + 1]))
                os.close(fd)
                fd = below
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_file(self, key: str) -> int:
        """A descriptor of the regular file `key`, no component of it a link."""
        parts = [p for p in key.split("/") if p]
        try:
            folder = self._open_dir(parts[:-1])
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), self.uri(key)) from exc
        try:
            fd = _open_at(folder, parts[-1], FILE_FLAGS, key)
        except FileNotFoundError as exc:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), self.uri(key)) from exc
        finally:
            os.close(folder)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), self.uri(key))
            raise NotARegularFile(key, "not a regular file")
        return fd

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


def _open_at(folder: int, name: str, flags: int, key: str) -> int:
    """os.open of `name` in the folder `folder`; NotARegularFile when it is a link."""
    try:
        return os.open(name, flags, dir_fd=folder)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(folder, name):
            raise NotARegularFile(key, "a symbolic link") from None
        raise


def _is_link(folder: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=folder).st_mode)
    except FileNotFoundError:
        return False


def _walk(fd: int, key: str, found: dict[str, os.stat_result]) -> None:
    """Add the regular files below the open folder `fd` (closed after), by key."""
    try:
        with os.scandir(fd) as listing:
            entries = list(listing)
        for entry in entries:
            below = f"{key}/{entry.name}" if key else entry.name
            try:
                if entry.is_symlink():
                    raise NotARegularFile(below, "a symbolic link")
                if entry.is_dir(follow_symlinks=False):
                    _walk(_open_at(fd, entry.name, DIR_FLAGS, below), below, found)
                elif entry.is_file(follow_symlinks=False):
                    found[below] = entry.stat(follow_symlinks=False)
                else:
                    raise NotARegularFile(below, "not a regular file")
            except FileNotFoundError:
                continue  # it vanished while listed
    finally:
        os.close(fd)


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
