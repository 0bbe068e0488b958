"""`sightline alertrules …` on a real metadata file."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sightline.alerts.cli import register_alert_commands
from sightline.alerts.rules import default_rules
from sightline.auth.cli import register_commands
from sightline.cli import main

Run = Callable[..., str]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run a `sightline` command on tmp_path with `stdin`; what it printed."""
    parser = argparse.ArgumentParser(prog="sightline")
    commands = parser.add_subparsers(dest="command", required=True)
    register_commands(commands)
    register_alert_commands(commands)

    def command(*argv: str, stdin: str = "") -> str:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        args = parser.parse_args([*argv, "--data-dir", str(tmp_path)])
        args.run(args)
        return capsys.readouterr().out

    command("customers", "add", "--id", "1001", "--name", "Alpha", "--plan-level", "6831")
    return command


def test_rules_from_the_command_line(run: Run) -> None:
    listed = run("alertrules", "list", "--customer", "1001").splitlines()
    assert len(listed) == len(default_rules())
    added = json.loads(
        run(
            "alertrules", "add", "--customer", "1001", "--name", "CDN VSF", "--metric", "vsf",
            "--dimensions", "cdn,country", "--window", "900", "--recipient", "email:noc@example.com:major",
        )
    )  # fmt: skip
    assert (added["scope"], added["dimensions"], added["window"]) == ("selected", ["cdn", "country"], 900)
    assert added["recipients"] == [{"kind": "email", "target": "noc@example.com", "level": "major"}]
    rule = added["id"]
    hook = {"name": "CDN VSF", "metric": "vsf", "recipients": [{"kind": "webhook", "target": "https://h.io/x",
                                                               "secret": "from-stdin"}]}  # fmt: skip
    updated = json.loads(
        run("alertrules", "update", rule, "--customer", "1001", "--json", "-", "--sensitivity", "0.9",
            stdin=json.dumps(hook))
    )  # fmt: skip
    assert (updated["sensitivity"], updated["dimensions"], updated["window"]) == (0.9, ["cdn", "country"], 900)
    assert updated["recipients"] == [{"kind": "webhook", "target": "https://h.io/x", "level": "warning",
                                      "hassecret": True}]  # fmt: skip
    assert json.loads(run("alertrules", "show", rule, "--customer", "1001")) == updated
    assert run("alertrules", "update", rule, "--customer", "1001", "--dimensions", "")  # back to scope all
    assert json.loads(run("alertrules", "show", rule, "--customer", "1001"))["scope"] == "all"
    assert run("alertrules", "delete", rule, "--customer", "1001") == f"deleted rule {rule} of customer 1001\n"
    assert len(run("alertrules", "list", "--customer", "1001").splitlines()) == len(default_rules())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("add", "--customer", "1001", "--name", "x", "--metric", "vsf", "--interval", "0"), "interval must be"),
        (("add", "--customer", "1001", "--name", "x", "--metric", "nope"), "unknown metric 'nope'"),
        (("show", "no-such-rule", "--customer", "1001"), "no alert rule no-such-rule"),
        (("add", "--customer", "1001", "--metric", "vsf"), "name"),
    ],
)
def test_a_bad_rule_is_one_line_and_status_2(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["alertrules", *argv, "--data-dir", str(tmp_path)])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("sightline: ")
    assert message in error
    assert len(error.strip().splitlines()) == 1


def test_alerts_run_replays_the_rounds_of_a_period(run: Run) -> None:
    printed = run("alerts", "run", "--from", "2024-05-11T00:00", "--to", "1715389200")  # an hour of an empty store
    assert printed.splitlines()[0].startswith("customer 1001: ")
    assert int(printed.split(": ")[1].split()[0]) == 9 * 13  # the 9 default rules, 13 rounds of 5 minutes
    with pytest.raises(ValueError, match="--to must be after --from"):
        run("alerts", "run", "--from", "1715389200", "--to", "2024-05-11T00:00")
