"""A lock object on S3: written only if none exists (If-None-Match: *), held by a lease.

The holder renews the lease every third of its length (a write conditional on the
object's ETag); a holder that died stops renewing, and once its lease has run out the
next run deletes the lock (conditional on that ETag) and takes it.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from pipelines.storage.lock import LockBusy, describe, holder, poll

LEASE_SECONDS = 120.0
TAKEN = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
log = logging.getLogger(__name__)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Lease:
    """The lock object `key` in `bucket`, taken by `acquire` and given back by `release`."""

    def __init__(self, client: Any, bucket: str, key: str, purpose: str, lease: float):
        self.client, self.bucket, self.key, self.lease = client, bucket, key, lease
        self.doc = holder(purpose)
        self.etag: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def _body(self) -> bytes:
        expires = datetime.now(UTC) + timedelta(seconds=self.lease)
        return json.dumps({**self.doc, "expires": expires.isoformat()}).encode()

    def _try(self) -> bool:
        """Write the lock if none exists; when one exists whose lease ran out, break it
        and try once more."""
        for _ in range(2):
            try:
                put = self.client.put_object(
                    Bucket=self.bucket, Key=self.key, Body=self._body(), IfNoneMatch="*"
                )
            except ClientError as exc:
                if _code(exc) not in TAKEN:
                    raise
                if not self._break_if_expired():
                    return False
            else:
                self.etag = put["ETag"]
                return True
        return False

    def _current(self) -> tuple[dict, str] | None:
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "404"}:
                return None
            raise
        try:
            doc = json.loads(got["Body"].read())
        except ValueError:
            doc = {}
        return doc, got["ETag"]

    def _break_if_expired(self) -> bool:
        """Delete a lock whose lease ran out (its holder died), if it is still that lock;
        whether the lock is gone."""
        current = self._current()
        if current is None:
            return True
        doc, etag = current
        try:
            expired = datetime.fromisoformat(str(doc["expires"])) < datetime.now(UTC)
        except (KeyError, ValueError):
            expired = True  # not a lock recon wrote: unreadable, so not renewed by anyone
        if expired:
            log.warning("breaking the expired lock %s (%s)", self.uri, describe(doc))
            try:
                self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=etag)
            except ClientError as exc:
                if _code(exc) not in TAKEN | {"NoSuchKey", "404"}:
                    raise
            return True
        return False

    def acquire(self, wait: float) -> None:
        def busy(waited: float) -> LockBusy:
            current = self._current()
            return LockBusy(f"warehouse lock {self.uri}", describe(current and current[0]), waited)

        poll(self._try, wait, busy)
        self._renewer = threading.Thread(target=self._renew, daemon=True, name="s3-lock-lease")
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                put = self.client.put_object(
                    Bucket=self.bucket, Key=self.key, Body=self._body(), IfMatch=self.etag
                )
                self.etag = put["ETag"]
            except ClientError:
                log.error("lost the warehouse lock %s: another run may have taken it", self.uri)
                return

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except ClientError as exc:
            log.error("could not give back the warehouse lock %s: %s", self.uri, _code(exc))
