"""`sightline customers|users|apikeys|ingestkeys` on a real metadata file."""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from sightline.auth.cli import register_commands
from sightline.auth.service import open_auth
from sightline.settings import Settings

Run = Callable[..., str]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run a `sightline` account command on tmp_path with `stdin`; what it printed."""
    monkeypatch.setenv("SIGHTLINE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("SIGHTLINE_ARGON2_MEMORY_KIB", "1024")
    parser = argparse.ArgumentParser(prog="sightline")
    register_commands(parser.add_subparsers(dest="command", required=True))

    def command(*argv: str, stdin: str = "") -> str:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        args = parser.parse_args([*argv, "--data-dir", str(tmp_path)])
        args.run(args)
        return capsys.readouterr().out

    return command


def test_accounts_from_the_command_line(run: Run, tmp_path: Path) -> None:
    assert "added customer 1001" in run("customers", "add", "--id", "1001", "--name", "Alpha", "--plan-level", "6831")
    run("customers", "add", "--id", "1002", "--name", "Beta", "--plan-level", "6829")
    assert run("customers", "list") == "1001\t6831\tAlpha\n1002\t6829\tBeta\n"
    run("users", "add", "ann@x.io", "--customer", "1001", "--customer", "1002", "--role", "admin", stdin="pw-one-1\n")
    assert run("users", "list") == "ann@x.io\tadmin\t1001,1002\n"
    run("users", "passwd", "ann@x.io", stdin="pw-two-22\n")
    api_key = run("apikeys", "create", "--customer", "1001", "--label", "reports").strip()
    ingest_key = run("ingestkeys", "create", "--customer", "1002").strip()
    assert api_key.startswith("slk_")
    assert ingest_key.startswith("sli_")
    listed = run("apikeys", "list")
    assert listed.startswith(f"1\t1001\t{api_key[:10]}…\tactive\treports")
    assert api_key not in listed
    assert run("apikeys", "revoke", "1").startswith("revoked api key 1 ")
    assert "\trevoked " in run("apikeys", "list", "--customer", "1001")
    run("ingestkeys", "revoke", "2")
    auth = open_auth(Settings(data_dir=tmp_path, argon2_time_cost=1, argon2_memory_kib=1024))
    try:
        assert auth.tokens.password_grant("ann@x.io", "pw-two-22").access_token
        assert auth.access.customer_for_ingest_key(ingest_key) is None
    finally:
        auth.close()


def test_errors_are_value_errors_for_one_line_messages(run: Run) -> None:
    with pytest.raises(ValueError, match="unknown plan level 7"):
        run("customers", "add", "--id", "1001", "--name", "Alpha", "--plan-level", "7")
    with pytest.raises(ValueError, match="no customer 1001"):
        run("users", "add", "ann", "--customer", "1001", stdin="password-1\n")
    with pytest.raises(ValueError, match="no api key 5"):
        run("apikeys", "revoke", "5")


def test_a_password_is_never_an_argument(run: Run) -> None:
    with pytest.raises(SystemExit):
        run("users", "add", "ann", "--customer", "1001", "--password", "password-1")
