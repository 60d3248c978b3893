"""Where a SQLite case store lives, whichever form its URL takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.casestore.engine import make_engine, sqlite_file


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////srv/recon/recon.db", "/srv/recon/recon.db"),
        ("sqlite:///file:/srv/recon/recon.db?mode=ro&uri=true", "/srv/recon/recon.db"),
        ("sqlite:///file:/srv/my%20store/recon.db?uri=true", "/srv/my store/recon.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", None),
        ("postgresql+psycopg://recon@127.0.0.1/recon", None),
    ],
)
def test_the_database_file_of_a_url(url: str, path: str | None) -> None:
    assert sqlite_file(url) == (Path(path) if path else None)


def test_a_uri_form_url_makes_no_folder_named_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "warehouse" / "recon.db"
    engine = make_engine(f"sqlite:///file:{store}?uri=true")
    with engine.connect():
        pass
    engine.dispose()
    assert store.exists()
    assert not (tmp_path / "file:").exists()
