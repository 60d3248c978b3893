"""A partition of the landing zone: where its files live, and the error that rejects it whole."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pipelines.layout import landing_prefix
from pipelines.storage import NotARegularFile


class RejectedPartition(Exception):
    """A landing partition that cannot be ingested at all; nothing of it is written.

    `file` is the landing key of the offending file (None when the partition itself is
    missing); `message`, also `str(exc)`, names that file and the problem.
    """

    def __init__(self, source: str, business_date: date, file: str | None, message: str):
        super().__init__(message)
        self.source = source
        self.business_date = business_date
        self.file = file
        self.message = message


@dataclass(frozen=True)
class LandingPartition:
    """One source's delivery for one business date."""

    source: str
    business_date: date

    @property
    def prefix(self) -> str:
        return landing_prefix(self.source, self.business_date)

    def key(self, name: str) -> str:
        """The landing key of a file of this partition."""
        return f"{self.prefix}/{name}"

    def reject(self, file: str | None, problem: str) -> RejectedPartition:
        """The rejection of this partition because of `file` (a key) or, if None, as a whole."""
        subject = file if file is not None else f"{self.prefix}/"
        return RejectedPartition(self.source, self.business_date, file, f"{subject}: {problem}")

    def refuse(self, exc: NotARegularFile) -> RejectedPartition:
        """The rejection of this partition because a file or folder of it is a link (or not
        a regular file), which is never followed nor read (contract section 1)."""
        return self.reject(
            exc.key,
            f"{exc.what}, refused: part files are regular files inside their partition folder",
        )
