"""Error texts without row content or SQL parameters (what leaves recon as a message).

Libraries quote what they failed on: polars and pyarrow name the values or the whole row,
database drivers the key values (PostgreSQL's DETAIL) and SQLAlchemy the statement and its
parameters. Every message made of a foreign exception goes through `reason`, which keeps
the kind of failure and drops what it quotes; recon's own errors name file, row, column
and reason themselves.
"""

from __future__ import annotations

import re

# pyarrow: "Expected 14 columns, got 1: <the row>"; polars: "... values: [<values>]"
AFTER_COUNT = re.compile(r"(got \d+)\s*:.*$")
BRACKETED = re.compile(r"\[[^\]]*\]?")
QUOTED = re.compile(r"'[^']*'?|\"[^\"]*\"?|`[^`]*`?")
AFTER_COLON_VALUE = re.compile(r"(for type \w+|value|values|input|row|line)\s*:.*$", re.I)
MAX_CHARS = 300


def reason(exc: BaseException) -> str:
    """Why `exc` failed: recon's own errors as they are, a library's in one line with no
    value it quotes (see the module doc)."""
    if type(exc).__module__.startswith("pipelines."):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""  # a path, not content
        return f"{exc.strerror}{where}"
    orig = getattr(exc, "orig", None)  # SQLAlchemy: the driver's message, without the SQL
    text = str(orig if isinstance(orig, BaseException) else exc)
    return scrub(text) or type(exc).__name__


def scrub(text: str) -> str:
    """The first line of a library's message without the values, rows or lists it quotes."""
    line = (text.strip().splitlines() or [""])[0]
    line = AFTER_COUNT.sub(r"\1", line)
    line = AFTER_COLON_VALUE.sub(r"\1", line)
    line = BRACKETED.sub("[...]", line)
    line = QUOTED.sub("...", line)
    return line[:MAX_CHARS].strip()


def describe(exc: BaseException) -> str:
    """`Type: reason`, for a failure recon did not anticipate."""
    return f"{type(exc).__name__}: {reason(exc)}"
