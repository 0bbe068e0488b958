"""`sightline alertrules …` on a real metadata file."""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from sightline.alerts.cli import register_alert_commands
from sightline.alerts.engine import SETTLE_S
from sightline.alerts.models import AlertRuleRow
from sightline.alerts.rules import default_rules
from sightline.alerts.scheduler import EARLIEST_S
from sightline.auth.cli import register_commands
from sightline.auth.service import open_auth
from sightline.cli import main
from sightline.settings import Settings

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
    rounds = int(printed.split(": ")[1].split()[0])
    assert rounds == len(default_rules()) * 13  # 13 rounds of 5 minutes a rule
    with pytest.raises(ValueError, match="--to must be after --from"):
        run("alerts", "run", "--from", "1715389200", "--to", "2024-05-11T00:00")


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """The lines `sightline argv` printed to stderr, refusing with status 2."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err.strip().splitlines()


def judged_until(data_dir: Path) -> list[datetime | None]:
    auth = open_auth(Settings(data_dir=data_dir))
    try:
        with sessionmaker(auth.engine)() as session:
            return list(session.scalars(select(AlertRuleRow.judged_until)))
    finally:
        auth.close()


@pytest.mark.parametrize(
    ("span", "flag"),
    [
        (lambda now: (now - 3600, now + 3600), "--to"),  # intervals that have not ended
        (lambda now: (now - 3600, now - SETTLE_S // 2), "--to"),  # ended, not settled
        (lambda now: (now + 365 * 86_400, now + 366 * 86_400), "--from"),  # the scheduler would skip until then
        (lambda now: (99_999_999_999_999, 999_999_999_999_999), "--from"),  # was a MemoryError
        (lambda now: (EARLIEST_S - 3600, EARLIEST_S + 3600), "--from"),  # before anything the store holds
    ],
    ids=["not ended", "not settled", "next year", "far future", "before 2000"],
)
def test_alerts_run_judges_only_what_the_scheduler_could_have_by_now(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str], span: Callable[[int], tuple[int, int]], flag: str
) -> None:
    assert run("alertrules", "list", "--customer", "1001")  # the default rules, never judged
    start, end = span(int(time.time()))  # the CLI reads the clock when it runs
    period = ("--from", str(start), "--to", str(end))
    [error] = refusal(capsys, "alerts", "run", "--customer", "1001", *period, "--data-dir", str(tmp_path))
    assert error.startswith(f"sightline: {flag} must be from 2000-01-01T00:00:00Z to ")
    assert set(judged_until(tmp_path)) == {None}


def test_alerts_run_judges_by_default_up_to_what_the_scheduler_judges_now(run: Run, tmp_path: Path) -> None:
    run("alerts", "run", "--from", str(int(time.time()) - 900))
    judged = [t.timestamp() for t in judged_until(tmp_path) if t is not None]
    assert len(judged) == len(default_rules())
    assert max(judged) <= time.time() - SETTLE_S


@pytest.mark.parametrize(
    "argv",
    [
        ("alertrules", "add", "--customer", "9999", "--name", "g", "--metric", "vsf"),
        ("alertrules", "list", "--customer", "9999"),
        ("alerts", "run", "--customer", "9999", "--from", "2024-05-11T00:00", "--to", "2024-05-11T01:00"),
    ],
)
def test_an_unknown_customer_is_refused(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    [error] = refusal(capsys, *argv, "--data-dir", str(tmp_path))
    assert error.startswith("sightline: no customer 9999")


def test_alerts_run_refuses_a_customer_whose_plan_has_no_alerts(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run("customers", "add", "--id", "1003", "--name", "Gamma", "--plan-level", "6829")
    period = ("--from", "2024-05-11T00:00", "--to", "2024-05-11T01:00")
    [error] = refusal(capsys, "alerts", "run", "--customer", "1003", *period, "--data-dir", str(tmp_path))
    assert error == "sightline: --customer 1003: its plan, Essentials, does not include alerts"


def test_rules_are_written_only_for_a_customer_whose_plan_has_alerts(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run("customers", "add", "--id", "1003", "--name", "Gamma", "--plan-level", "6829")
    there = ("--customer", "1003", "--data-dir", str(tmp_path))
    refused = ["sightline: --customer 1003: its plan, Essentials, does not include alerts"]
    assert refusal(capsys, "alertrules", "add", *there, "--name", "Start failures", "--metric", "vsf") == refused
    listed = run("alertrules", "list", "--customer", "1003").splitlines()
    assert listed
    assert not any("Start failures" in line for line in listed)
    first = listed[0].split("\t")[0]
    assert refusal(capsys, "alertrules", "update", *there, first, "--sensitivity", "0.9") == refused
    run("alertrules", "delete", "--customer", "1003", first)  # an operator may still clean up
    assert len(run("alertrules", "list", "--customer", "1003").splitlines()) == len(listed) - 1


@pytest.mark.parametrize(
    "argv",
    [
        ("alerts", "run", "--from", "2024-05-11T00:00", "--to", "2024-05-11T01:00"),
        ("alertrules", "list", "--customer", "1001"),
        ("customers", "list"),
        ("users", "list"),
        ("users", "passwd", "ann@x.io"),
        ("apikeys", "list"),
        ("ingestkeys", "revoke", "1"),
        ("quarantine", "list"),
        ("quarantine", "replay"),
    ],
)
def test_a_data_dir_that_does_not_exist_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    missing = tmp_path / "missing"
    [error] = refusal(capsys, *argv, "--data-dir", str(missing))
    assert error == f"sightline: --data-dir {missing}: no such directory; give an existing data directory"
    assert not missing.exists()


def test_adding_a_customer_makes_the_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "new"
    main(["customers", "add", "--id", "7", "--name", "Seven", "--plan-level", "6831", "--data-dir", str(missing)])
    assert capsys.readouterr().out.startswith("added customer 7 ")
    main(["customers", "list", "--data-dir", str(missing)])
    assert capsys.readouterr().out == "7\t6831\tSeven\n"


@pytest.mark.parametrize(
    ("source", "stdin", "errors"),
    [
        ("/nonexistent/rule.json", "", ["--json /nonexistent/rule.json: No such file or directory"]),
        ("-", "[1, 2]", ["--json -: the JSON must be an object (the API's body)"]),
        ("-", '{"name": "x"', ["--json -: not JSON (Expecting ',' delimiter: line 1 column 13 (char 12))"]),
        ("-", '{"recipients": [{"kind": "fax", "target": "x"}]}', [
            "name: Field required", "metric: Field required",
            "recipients[0].kind: Input should be 'webhook', 'slack' or 'email'",
        ]),
    ],
)  # fmt: skip
def test_a_bad_json_rule_is_a_line_per_problem(
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: str,
    stdin: str,
    errors: list[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    refused = refusal(capsys, "alertrules", "add", "--customer", "1001", "--json", source, "--data-dir", str(tmp_path))
    assert refused == [f"sightline: {error}" for error in errors]


@pytest.mark.parametrize(
    ("given", "target", "level"),
    [
        ("email:noc@example.com", "noc@example.com", "warning"),
        ("email:noc@example.com:critical", "noc@example.com", "critical"),
        ("webhook:https://x.example/h", "https://x.example/h", "warning"),
        ("webhook:https://x.example/h:critical", "https://x.example/h", "critical"),
        ("webhook:https://x.example:8443", "https://x.example:8443", "warning"),
        ("webhook:https://x.example:8443/h:major", "https://x.example:8443/h", "major"),
    ],
)
def test_a_recipients_level_follows_its_last_colon(run: Run, given: str, target: str, level: str) -> None:
    added = json.loads(run("alertrules", "add", "--customer", "1001", "--name", "g", "--metric", "vsf",
                           "--recipient", given))  # fmt: skip
    assert [(r["target"], r["level"]) for r in added["recipients"]] == [(target, level)]


@pytest.mark.parametrize("given", ["email:a@b.com:extreme", "webhook:https://x.example/h:Critical"])
def test_an_unknown_level_of_a_recipient_is_refused(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    argv = ("alertrules", "add", "--customer", "1001", "--name", "g", "--metric", "vsf", "--recipient", given)
    error = refusal(capsys, *argv, "--data-dir", str(tmp_path))[-1]
    assert error.endswith(f"argument --recipient: unknown level {given.rpartition(':')[2]!r} in {given!r}; "
                          "a level is one of critical, major, warning")  # fmt: skip


def test_alertrules_list_prints_a_line_per_rule_whatever_its_name_holds(run: Run, tmp_path: Path) -> None:
    rule = json.loads(run("alertrules", "add", "--customer", "1001", "--name", "g", "--metric", "vsf"))["id"]
    auth = open_auth(Settings(data_dir=tmp_path))
    try:
        with sessionmaker(auth.engine).begin() as session:  # a name written before names were checked
            row = session.get_one(AlertRuleRow, rule)
            row.definition = json.dumps(json.loads(row.definition) | {"name": "two\nlines\tand a tab"})
    finally:
        auth.close()
    for line in run("alertrules", "list", "--customer", "1001").splitlines():
        assert len(line.split("\t")) == 6, line


def test_a_second_rule_of_one_name_is_refused(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = json.loads(run("alertrules", "add", "--customer", "1001", "--name", "Failures", "--metric", "vsf"))["id"]
    argv = ("alertrules", "add", "--customer", "1001", "--name", "failures", "--metric", "ebvs")
    assert refusal(capsys, *argv, "--data-dir", str(tmp_path)) == [
        f"sightline: name 'failures': the rule {first} is named 'Failures'; give this one another"
    ]
