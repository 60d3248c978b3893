"""The repository's documents stay true to the spec of record and to each other."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SPEC_OF_RECORD = REPO.parent / "shared" / "contract.md"


@pytest.mark.skipif(not SPEC_OF_RECORD.exists(), reason="no ../shared/contract.md beside the repo")
def test_the_contract_copy_is_identical_to_the_spec_of_record() -> None:
    assert (REPO / "docs" / "contract.md").read_bytes() == SPEC_OF_RECORD.read_bytes()
