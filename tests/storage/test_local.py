"""LocalStorage: a republish never leaves a folder missing, and what a kill left is repaired."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.storage import LocalStorage, NotARegularFile
from pipelines.storage import local as local_module

TOKEN = "0123456789abcdef0123456789abcdef"


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def beside(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name != folder.name)


@pytest.fixture(params=["exchange", "two renames"])
def storage(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Where renameat2 swaps folders atomically, and where it cannot."""
    if request.param == "two renames":
        monkeypatch.setattr(local_module, "_exchange", lambda _a, _b: False)
    return LocalStorage(tmp_path)


def test_replace_prefix_swaps_in_exactly_the_new_files(storage: LocalStorage, tmp_path: Path):
    storage.replace_prefix("cases/n", {"a.csv": b"1", "summary.json": b"1"})
    storage.replace_prefix("cases/n", {"b.csv": b"2", "summary.json": b"2"})
    assert files(tmp_path / "cases/n") == {"b.csv": b"2", "summary.json": b"2"}
    assert beside(tmp_path / "cases/n") == []


def test_versions_change_whenever_a_file_is_written_again(storage: LocalStorage):
    storage.replace_prefix("curated/d", {"data.parquet": b"1", "_ingest.json": b"{}"})
    first = storage.versions("curated")
    assert list(first) == storage.list_keys("curated")
    assert storage.versions("curated") == first
    storage.replace_prefix("curated/d", {"data.parquet": b"1", "_ingest.json": b"{}"})
    again = storage.versions("curated")
    assert again["curated/d/data.parquet"] != first["curated/d/data.parquet"]
    storage.write_bytes("curated/d/data.parquet", b"2")
    assert storage.versions("curated")["curated/d/data.parquet"] != again["curated/d/data.parquet"]
    assert storage.versions("absent") == {}


def test_a_kill_between_the_two_renames_is_rolled_forward(tmp_path: Path):
    """The old folder moved away, the complete new one not yet in place: the next replace
    (or any run that republishes) puts the new one in place first."""
    target = tmp_path / "cases/n"
    ready = target.with_name(f".n.{TOKEN}.ready")
    old = target.with_name(f".n.{TOKEN}.old")
    for folder, data in ((ready, b"new"), (old, b"old")):
        folder.mkdir(parents=True)
        (folder / "summary.json").write_bytes(data)
    local_module._repair(target)
    assert files(target) == {"summary.json": b"new"}
    assert beside(target) == []


def test_leftovers_of_a_kill_are_removed_and_the_folder_kept(storage: LocalStorage, tmp_path):
    storage.replace_prefix("cases/n", {"summary.json": b"published"})
    target = tmp_path / "cases/n"
    for kind in ("partial", "ready", "old", "staging"):  # .staging: written by 0.1
        (target.with_name(f".n.{TOKEN}.{kind}")).mkdir()
    (target.with_name(f".n2.{TOKEN}.partial")).mkdir()  # another folder's: not ours
    storage.replace_prefix("cases/n", {"summary.json": b"again"})
    assert files(target) == {"summary.json": b"again"}
    assert beside(target) == [f".n2.{TOKEN}.partial"]


def test_without_a_folder_the_last_complete_one_comes_back(tmp_path: Path):
    target = tmp_path / "cases/n"
    old = target.with_name(f".n.{TOKEN}.old")
    old.mkdir(parents=True)
    (old / "summary.json").write_bytes(b"old")
    (target.with_name(f".n.{'f' * 32}.partial")).mkdir()  # never completed: dropped
    local_module._repair(target)
    assert files(target) == {"summary.json": b"old"}
    assert beside(target) == []


def test_a_republish_is_never_missing_the_folder(tmp_path: Path, monkeypatch):
    """With the exchange, the folder exists at every moment of the swap."""
    storage = LocalStorage(tmp_path)
    storage.replace_prefix("cases/n", {"summary.json": b"1"})
    seen = []
    exchange = local_module._exchange

    def watched(a: Path, b: Path) -> bool:
        seen.append((tmp_path / "cases/n").is_dir())
        done = exchange(a, b)
        seen.append((tmp_path / "cases/n").is_dir())
        return done

    monkeypatch.setattr(local_module, "_exchange", watched)
    monkeypatch.setattr(os, "replace", _forbid_target_moves(os.replace, tmp_path / "cases/n"))
    storage.replace_prefix("cases/n", {"summary.json": b"2"})
    assert seen == [True, True]
    assert files(tmp_path / "cases/n") == {"summary.json": b"2"}


def _forbid_target_moves(replace, target: Path):
    def checked(src, dst):
        assert Path(src) != target, "the published folder was moved away"
        return replace(src, dst)

    return checked


def test_a_killed_write_leaves_no_temporary_file(tmp_path: Path):
    storage = LocalStorage(tmp_path)
    (tmp_path / "curated").mkdir()
    (tmp_path / f"curated/.x.json.{TOKEN}.tmp").write_bytes(b"half")
    (tmp_path / f"curated/.y.json.{TOKEN}.tmp").write_bytes(b"another file's")
    storage.write_bytes("curated/x.json", b"whole")
    assert sorted(p.name for p in (tmp_path / "curated").iterdir()) == [
        f".y.json.{TOKEN}.tmp",
        "x.json",
    ]


def test_list_keys_skips_a_folder_that_vanishes_while_listed(tmp_path: Path, monkeypatch):
    """Another task swaps its folder away between the listing of its parent and its own."""
    storage = LocalStorage(tmp_path)
    storage.write_bytes("q/a/x.json", b"1")
    storage.write_bytes("q/b/y.json", b"2")
    real = local_module._open_at

    def vanishing(folder: int, name: str, flags: int, key: str) -> int:
        if key == "q/b":
            (tmp_path / "q/b/y.json").unlink()
            (tmp_path / "q/b").rmdir()
        return real(folder, name, flags, key)

    monkeypatch.setattr(local_module, "_open_at", vanishing)
    assert storage.list_keys("q") == ["q/a/x.json"]


def test_list_keys_while_another_process_replaces_folders(tmp_path: Path):
    """Listings racing republishes of sibling folders never fail (the DAG's reruns)."""
    import threading

    storage = LocalStorage(tmp_path)
    stop = threading.Event()

    def republish() -> None:
        while not stop.is_set():
            storage.replace_prefix("q/site", {"static/a.css": b"x", "index.html": b"y"})

    worker = threading.Thread(target=republish)
    worker.start()
    try:
        for _ in range(300):
            keys = storage.list_keys("q")
            assert set(keys) <= {"q/site/static/a.css", "q/site/index.html"} | {
                k for k in keys if k.startswith("q/.site.")
            }
    finally:
        stop.set()
        worker.join()


def test_links_are_never_followed(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("do not read")
    storage = LocalStorage(tmp_path / "root")
    storage.write_bytes("a/real.csv", b"1")
    (tmp_path / "root/a/link.csv").symlink_to(outside / "secret")
    (tmp_path / "root/b").symlink_to(outside, target_is_directory=True)
    for read in (storage.read_bytes, storage.sha256):
        with pytest.raises(NotARegularFile, match=r"^a/link\.csv: a symbolic link, refused"):
            read("a/link.csv")
        with pytest.raises(NotARegularFile, match=r"^b: a symbolic link"):
            read("b/secret")
    with pytest.raises(NotARegularFile, match=r"^a/link\.csv: a symbolic link"):
        storage.list_keys("a")
    with pytest.raises(NotARegularFile, match=r"^b: a symbolic link"):
        storage.list_keys("b/")
    assert storage.read_bytes("a/real.csv") == b"1"
    with pytest.raises(FileNotFoundError, match=r"a/missing\.csv"):
        storage.read_bytes("a/missing.csv")
    assert storage.list_keys("missing") == []
