"""The S3 backend of `Storage`: a prefix `s3://bucket/prefix`, through boto3 and polars.

Configuration comes from keyword arguments, else the standard AWS environment:
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION, and the usual
credential chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, profiles...).
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.settings import aws_region, s3_endpoint, session_environment
from pipelines.storage.s3_lock import LEASE_SECONDS, S3Lease

DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
CHUNK = 1 << 20
PARALLEL = 8  # concurrent uploads and copies in replace_prefix
MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
# What a boto3 session reads from the environment when it is created.
SESSION_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def _session() -> boto3.session.Session:
    """A boto3 session for the current AWS environment, shared so that its clients share
    the loaded service models (a new session costs ~70 ms per client)."""
    return _session_for(session_environment(SESSION_ENV))


@functools.cache
def _session_for(_env: tuple[str | None, ...]) -> boto3.session.Session:
    return boto3.session.Session()


def _each(action: Callable[[str], None], items: list[str]) -> None:
    """`action` on every item, PARALLEL at a time (S3 is latency-bound); raises the first error."""
    with ThreadPoolExecutor(PARALLEL) as pool:
        for _ in pool.map(action, items):
            pass


def _norm(key: str) -> str:
    """A key without empty segments: 'a//b/' -> 'a/b' (as a local path would read it)."""
    return "/".join(p for p in key.split("/") if p)


class S3Storage:
    """Objects below an S3 prefix; keys are '/'-separated and relative to that prefix."""

    def __init__(
        self,
        root: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
    ):
        if not root.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {root}")
        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"no bucket in S3 URI: {root}")
        self.bucket, self.prefix = bucket, _norm(prefix)
        self.root = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.endpoint_url = endpoint_url or s3_endpoint()
        self._session = _session()
        self.region = region or aws_region() or self._session.region_name or "us-east-1"
        self._credentials = (aws_access_key_id, aws_secret_access_key, aws_session_token)
        # A custom endpoint (MinIO, moto, Ceph) gets path-style addressing, as polars uses.
        config = Config(s3={"addressing_style": "path"}) if self.endpoint_url else None
        self._client = self._session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            config=config,
        )

    @property
    def storage_options(self) -> dict[str, str]:
        """What polars needs to read `uri(key)`: the same endpoint, region and credentials."""
        options = {"aws_region": self.region}
        if self.endpoint_url:
            options["aws_endpoint_url"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                options["aws_allow_http"] = "true"
        key_id, secret, token = self._credentials
        if not key_id:
            credentials = self._session.get_credentials()  # the chain the client uses
            if credentials is None:
                return options  # polars looks for credentials itself
            frozen = credentials.get_frozen_credentials()
            key_id, secret, token = frozen.access_key, frozen.secret_key, frozen.token
        options["aws_access_key_id"] = key_id
        options["aws_secret_access_key"] = secret
        if token:
            options["aws_session_token"] = token
        return options

    def _full(self, key: str) -> str:
        """The object key in the bucket."""
        return "/".join(p for p in (self.prefix, _norm(key)) if p)

    def _uri_of(self, full_key: str) -> str:
        return f"s3://{self.bucket}/{full_key}"

    def uri(self, key: str) -> str:
        return self._uri_of(self._full(key))

    @contextmanager
    def _errors(self, full_key: str) -> Iterator[None]:
        """Turn boto errors into OSErrors naming the s3 URI (FileNotFoundError when missing)."""
        uri = self._uri_of(full_key)
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code == "NoSuchBucket":
                raise FileNotFoundError(
                    f"S3 bucket '{self.bucket}' does not exist (accessing {uri})"
                ) from exc
            if code in MISSING_KEY_CODES:
                raise FileNotFoundError(f"no such S3 object: {uri}") from exc
            raise OSError(
                f"S3 request for {uri} failed: {code} {error.get('Message', exc)}"
            ) from exc
        except BotoCoreError as exc:
            raise OSError(f"S3 request for {uri} failed: {exc}") from exc

    def _list_full(self, full_prefix: str) -> list[str]:
        """Full keys of the objects below the 'folder' `full_prefix`, sorted."""
        return sorted(self._listing(full_prefix))

    def _listing(self, full_prefix: str) -> dict[str, str]:
        """The objects below the 'folder' `full_prefix`: full key -> ETag and size."""
        search = f"{full_prefix}/" if full_prefix else ""
        found: dict[str, str] = {}
        with self._errors(search):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=search
            )
            for page in pages:
                for o in page.get("Contents", ()):
                    if not o["Key"].endswith("/"):  # skip console "folders"
                        found[o["Key"]] = f"{o.get('ETag', '')}:{o.get('Size', '')}"
        return found

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def exists(self, key: str) -> bool:
        """True for an object, or for a 'folder' that holds objects (like a local path)."""
        full = self._full(key)
        if full:
            try:
                with self._errors(full):
                    self._client.head_object(Bucket=self.bucket, Key=full)
                return True
            except FileNotFoundError:
                pass  # HEAD cannot tell a missing bucket; the listing below does
        search = f"{full}/" if full else ""
        with self._errors(search):
            page = self._client.list_objects_v2(Bucket=self.bucket, Prefix=search, MaxKeys=1)
        return page.get("KeyCount", 0) > 0

    def list_keys(self, prefix: str) -> list[str]:
        """Keys of the objects below `prefix` (a folder), sorted, relative to the root."""
        return [self._relative(k) for k in self._list_full(self._full(prefix))]

    def versions(self, prefix: str) -> dict[str, str]:
        """The objects below `prefix` (as list_keys), each with its ETag and size from the
        same listing: the ETag changes whenever the content does."""
        listing = self._listing(self._full(prefix))
        return {self._relative(k): listing[k] for k in sorted(listing)}

    def read_bytes(self, key: str) -> bytes:
        full = self._full(key)
        with self._errors(full):
            return self._client.get_object(Bucket=self.bucket, Key=full)["Body"].read()

    def sha256(self, key: str) -> str:
        """SHA-256 hex digest of the object, streamed in 1 MiB chunks."""
        full = self._full(key)
        digest = hashlib.sha256()
        with self._errors(full):
            body = self._client.get_object(Bucket=self.bucket, Key=full)["Body"]
            for chunk in body.iter_chunks(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def write_bytes(self, key: str, data: bytes) -> None:
        self._put(self._full(key), data)

    def _put(self, full_key: str, data: bytes) -> None:
        with self._errors(full_key):
            self._client.put_object(Bucket=self.bucket, Key=full_key, Body=data)

    def _delete(self, full_keys: list[str]) -> None:
        for start in range(0, len(full_keys), DELETE_BATCH):
            batch = full_keys[start : start + DELETE_BATCH]
            with self._errors(batch[0]):
                response = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            if response.get("Errors"):
                failed = response["Errors"][0]
                raise OSError(
                    f"S3 delete of {self._uri_of(failed['Key'])} failed: "
                    f"{failed.get('Code')} {failed.get('Message')}"
                )

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object below `prefix`; nothing there is not an error."""
        self._delete(self._list_full(self._full(prefix)))

    def replace_prefix(self, prefix: str, files: dict[str, bytes]) -> None:
        """Make `prefix` hold exactly `files`. Not atomic on S3; in this order:

        1. every new object is uploaded to a staging key space beside the prefix
           (`.<name>.<random>.staging/`); a failure here leaves the prefix untouched;
        2. the old objects are deleted that are not in the new set, and every old
           `*.json` object (the control files: summary.json, _ingest.json);
        3. the new objects are copied into place, `*.json` files last;
        4. the staging copies are deleted.

        So whenever a JSON control file is present under the prefix, the other objects
        are all of one set, old or new. Mid-swap a reader may find no control file, and
        old and new data files side by side; a reader reads the control file before and
        after the data, and retries if it vanished or changed. A failure after step 1
        leaves the prefix without its control files (not published) until the next
        successful replace.
        """
        target = self._full(prefix)
        if not target:
            raise ValueError(f"cannot replace the bucket root {self.root}")
        parent, _, name = target.rpartition("/")
        self._delete(self._leftovers(parent, name))
        staging = "/".join(p for p in (parent, f".{name}.{uuid.uuid4().hex}.staging") if p)
        new = {_norm(n): data for n, data in files.items()}
        data_files = [n for n in new if not n.endswith(".json")]
        control_files = [n for n in new if n.endswith(".json")]
        staged: list[str] = []

        def stage(n: str) -> None:
            self._put(f"{staging}/{n}", new[n])
            staged.append(f"{staging}/{n}")

        def place(n: str) -> None:
            with self._errors(f"{target}/{n}"):
                self._client.copy_object(
                    Bucket=self.bucket,
                    Key=f"{target}/{n}",
                    CopySource={"Bucket": self.bucket, "Key": f"{staging}/{n}"},
                )

        try:
            _each(stage, list(new))
            self._delete(
                [
                    k
                    for k in self._list_full(target)
                    if k.endswith(".json") or k[len(target) + 1 :] not in new
                ]
            )
            _each(place, data_files)
            _each(place, control_files)
        finally:
            self._delete(staged)

    def _leftovers(self, parent: str, name: str) -> list[str]:
        """Staging copies an earlier replace of `parent/name`, killed midway, left behind."""
        search = "/".join(p for p in (parent, f".{name}.") if p)
        keys: list[str] = []
        with self._errors(search):
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=search
            ):
                keys.extend(o["Key"] for o in page.get("Contents", ()))
        return [k for k in keys if ".staging/" in k]

    @contextmanager
    def lock(
        self, key: str, purpose: str, wait: float, lease: float = LEASE_SECONDS
    ) -> Iterator[None]:
        """Hold the lock object `key` (see s3_lock) while the block runs; LockBusy after
        `wait` seconds."""
        held = S3Lease(self._client, self.bucket, self._full(key), purpose, lease)
        with self._errors(held.key):
            held.acquire(wait)
        try:
            yield
        finally:
            held.release()
