"""`recon users` and `recon serve`'s refusal to listen widely without a secret key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.casestore.accounts import Accounts
from pipelines.casestore.store import CaseStore
from pipelines.cli.main import main
from tests.support.desk import fast_hashing

PASSWORD = "a long enough password"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    fast_hashing()
    monkeypatch.delenv("RECON_SECRET_KEY", raising=False)
    return f"sqlite:///{tmp_path / 'cases.db'}"


def recon(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), input=stdin)


def test_add_list_disable_set_password_and_token(db: str) -> None:
    added = recon(
        "users",
        "add",
        "alice",
        "--role",
        "agent",
        "--password-stdin",
        "--db",
        db,
        stdin=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    assert (
        recon(
            "users",
            "add",
            "alice",
            "--role",
            "lead",
            "--password-stdin",
            "--db",
            db,
            stdin=PASSWORD + "\n",
        ).exit_code
        == 2
    )  # exists
    assert (
        recon(
            "users", "add", "bob", "--role", "boss", "--password-stdin", "--db", db, stdin=PASSWORD
        ).exit_code
        == 2
    )
    assert (
        "at least 12"
        in recon(
            "users",
            "add",
            "bob",
            "--role",
            "agent",
            "--password-stdin",
            "--db",
            db,
            stdin="short\n",
        ).output
    )
    assert (
        "reserved"
        in recon("users", "add", "recon", "--role", "agent", "--no-password", "--db", db).output
    )
    token = recon("users", "token", "alice", "--db", db).output.strip()
    assert token.startswith("recon_")
    listed = recon("users", "list", "--db", db).output
    assert "alice" in listed and "agent" in listed and "tokens 1" in listed
    with CaseStore(db) as store:
        accounts = Accounts(store.engine)
        assert accounts.authenticate("alice", PASSWORD) is not None
        assert accounts.for_token(token).name == "alice"  # type: ignore[union-attr]
        with store.engine.connect() as conn:
            stored = {row[0] for row in conn.exec_driver_sql("SELECT token_sha256 FROM api_tokens")}
        assert token not in stored  # only the hash is kept
    changed = recon(
        "users",
        "set-password",
        "alice",
        "--password-stdin",
        "--db",
        db,
        stdin="another long password\n",
    )
    assert changed.exit_code == 0
    with CaseStore(db) as store:
        assert Accounts(store.engine).authenticate("alice", PASSWORD) is None
    assert recon("users", "disable", "alice", "--db", db).exit_code == 0
    with CaseStore(db) as store:
        accounts = Accounts(store.engine)
        assert accounts.authenticate("alice", "another long password") is None
        assert accounts.for_token(token) is None
    assert recon("users", "disable", "nobody", "--db", db).exit_code == 2


def test_serve_refuses_other_hosts_without_a_secret_key(db: str) -> None:
    result = recon("serve", "--host", "0.0.0.0", "--db", db)
    assert result.exit_code == 2 and "RECON_SECRET_KEY is not set" in result.output
