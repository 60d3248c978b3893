"""The repository's documents stay true to the spec of record and to each other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SPEC_OF_RECORD = REPO.parent / "shared" / "contract.md"


@pytest.mark.skipif(not SPEC_OF_RECORD.exists(), reason="no ../shared/contract.md beside the repo")
def test_the_contract_copy_is_identical_to_the_spec_of_record() -> None:
    assert (REPO / "docs" / "contract.md").read_bytes() == SPEC_OF_RECORD.read_bytes()


def test_the_readme_stays_a_users_page_well_under_15_kb() -> None:
    assert len((REPO / "README.md").read_bytes()) < 13_500


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize(
    "page",
    [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))],
    ids=lambda p: p.name,
)
def test_every_relative_link_of_a_document_names_a_file_in_the_repository(page: Path) -> None:
    missing = [
        target
        for target in LINK.findall(page.read_text())
        if "://" not in target
        and not target.startswith("mailto:")
        and not (page.parent / target).exists()
    ]
    assert missing == []
