"""The manifest of a landing partition, checked against the files it describes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pipelines.contract import CONTRACT_VERSION
from pipelines.ingest.landing import LandingPartition
from pipelines.layout import MANIFEST_NAME
from pipelines.storage import NotARegularFile, Storage

PART_NAME = re.compile(r"part-[^/]+\.(csv|parquet)")
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class ManifestFile:
    """One part file as the manifest lists it."""

    name: str
    rows: int
    sha256: str


def verified_files(landing: Storage, part: LandingPartition) -> list[ManifestFile]:
    """The manifest's files, once the manifest and the partition's files agree.

    Raises RejectedPartition when the partition is missing or incomplete, the manifest is
    malformed or names another partition, or files are missing, unlisted or corrupt.
    Row counts are checked when the files are parsed. A link (the partition folder, a
    part, the manifest) is refused, never followed.
    """
    try:
        return _verified_files(landing, part)
    except NotARegularFile as exc:
        raise part.refuse(exc) from None


def _verified_files(landing: Storage, part: LandingPartition) -> list[ManifestFile]:
    keys = landing.list_keys(part.prefix + "/")
    if not keys:
        raise part.reject(None, "partition folder is missing")
    files = _read_manifest(landing, part, keys)
    names = {f.name for f in files}
    for f in files:
        if part.key(f.name) not in keys:
            raise part.reject(part.key(f.name), "listed in the manifest but missing")
    for key in keys:
        folder, _, name = key.rpartition("/")
        if folder == part.prefix and PART_NAME.fullmatch(name) and name not in names:
            raise part.reject(key, "part file present but not listed in the manifest")
    for f in files:
        actual = landing.sha256(part.key(f.name))
        if actual != f.sha256.lower():
            raise part.reject(
                part.key(f.name), f"sha256 {actual} does not match the manifest's {f.sha256}"
            )
    return files


def _read_manifest(landing: Storage, part: LandingPartition, keys: list[str]) -> list[ManifestFile]:
    key = part.key(MANIFEST_NAME)
    if key not in keys:
        raise part.reject(key, "no manifest yet, the partition is still arriving or incomplete")
    try:
        doc = json.loads(landing.read_bytes(key))
    except ValueError as exc:
        raise part.reject(key, f"not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise part.reject(key, "not a JSON object")
    expected = {
        "source": part.source,
        "business_date": part.business_date.isoformat(),
        "contract_version": CONTRACT_VERSION,
    }
    for field, want in expected.items():
        if field not in doc:
            raise part.reject(key, f"field '{field}' is missing")
        got = doc[field]
        if type(got) is not type(want) or got != want:
            raise part.reject(key, f"field '{field}' is {got!r}, expected {want!r}")
    if not isinstance(doc.get("files"), list):
        raise part.reject(key, "field 'files' is missing or not a list")
    files = [_manifest_file(part, key, i, entry) for i, entry in enumerate(doc["files"])]
    if len({f.name for f in files}) != len(files):
        raise part.reject(key, "a file is listed more than once")
    return files


def _manifest_file(part: LandingPartition, key: str, i: int, entry: object) -> ManifestFile:
    if not isinstance(entry, dict):
        raise part.reject(key, f"files[{i}] is not an object")
    name, rows, sha256 = entry.get("name"), entry.get("rows"), entry.get("sha256")
    if not isinstance(name, str) or not PART_NAME.fullmatch(name):
        raise part.reject(key, f"files[{i}].name {name!r} is not part-*.csv or part-*.parquet")
    if type(rows) is not int or rows < 0:
        raise part.reject(key, f"files[{i}].rows {rows!r} is not a non-negative integer")
    if not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
        raise part.reject(key, f"files[{i}].sha256 {sha256!r} is not a SHA-256 hex digest")
    return ManifestFile(name, rows, sha256)
