"""`sightline alertrules list|show|add|update|delete`: alert rules from the command line; `sightline alerts run`:
the detection rounds replayed over stored history, as the service's scheduler would have run them.

A rule is given by flags, or whole as JSON (`--json FILE`, `-` for stdin: the shape the API takes, the only way to
give a webhook's secret, which an argument would show to other users of the machine). `update` changes only the
flags given. Errors (a bad field, an unknown rule or customer) print one line each, as every `sightline` command's.
The commands read the customers of an existing data directory: they never create one. `alerts run` judges only
customers whose plan allows alerts, and only what the service's scheduler could have judged by now.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:
    from pydantic import ValidationError

    from sightline.alerts.store import RuleStore
    from sightline.auth.accounts import CustomerInfo
    from sightline.settings import Settings

RuleAction = Callable[["RuleStore", argparse.Namespace], None]
_FLAGS: dict[str, str] = {
    "name": "name",
    "type": "type",
    "metric": "metric",
    "interval": "interval",
    "window": "window",
    "min_attempts": "minattempts",
    "min_users": "minusers",
    "sensitivity": "sensitivity",
    "condition": "condition",
    "threshold": "threshold",
}
"""Flags of a rule → the field of the rule they set."""


def register_alert_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `alertrules` to `sightline`'s subcommands."""
    rules = commands.add_parser("alertrules", help="alert rules of a customer").add_subparsers(
        dest="action", required=True
    )
    _rule_action(rules, "list", "list the customer's rules", _list)
    show = _rule_action(rules, "show", "show a rule as JSON", _show)
    show.add_argument("id")
    add = _rule_action(rules, "add", "add a rule (flags, or --json)", _add, writes=True)
    _rule_flags(add)
    update = _rule_action(rules, "update", "change the fields given of a rule", _update, writes=True)
    update.add_argument("id")
    _rule_flags(update)
    delete = _rule_action(rules, "delete", "delete a rule", _delete)
    delete.add_argument("id")
    alerts = commands.add_parser("alerts", help="AI alerts").add_subparsers(dest="action", required=True)
    run = alerts.add_parser("run", help="run the detection rounds of [--from, --to] over stored history")
    run.add_argument("--data-dir", type=Path, help="data directory (default ./sightline-data)")
    run.add_argument("--customer", type=int, action="append", help="a customer id (repeatable; default: every one)")
    run.add_argument(
        "--from", dest="start", type=moment, required=True, help="epoch seconds or ISO 8601 (UTC); from 2000"
    )
    run.add_argument("--to", dest="end", type=moment, help="epoch seconds or ISO 8601 (UTC); default and latest: now")
    run.set_defaults(run=_run_alerts)


def moment(text: str) -> int:
    """Epoch seconds from epoch seconds or an ISO 8601 time (UTC unless it says otherwise)."""
    from datetime import UTC, datetime

    if text.strip().isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not epoch seconds nor an ISO 8601 time: {text!r}") from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def _run_alerts(args: argparse.Namespace) -> None:
    from sightline.alerts.engine import RuleRoundsError
    from sightline.alerts.scheduler import replay_customers
    from sightline.settings import existing_data_dir
    from sightline.store import open_store

    start, end = _period(args.start, args.end)
    settings = existing_data_dir(args.data_dir, metadata=True, store=True)
    _check_alerting(settings, args.customer or [])
    store = open_store(settings)
    try:
        replay_customers(
            settings,
            store,
            args.customer,
            start,
            end,
            lambda customer, ran, seconds: print(f"customer {customer}: {ran} rule rounds in {seconds:.1f} s"),
        )
    except RuleRoundsError as error:
        raise SystemExit(f"the rounds of {len(error.failed)} rule(s) failed (the others ran): {error}") from error
    finally:
        store.close()


def _period(start: int, end: int | None) -> tuple[int, int]:
    """[--from, --to] (epoch s; `end` None: the latest allowed), when a replay may judge it
    (`scheduler.check_period`); else ValueError naming the flag."""
    import time

    from sightline.alerts.engine import SETTLE_S
    from sightline.alerts.scheduler import EARLIEST_S, judged_by

    latest = judged_by(time.time())
    end = latest if end is None else end
    for flag, value in (("--from", start), ("--to", end)):
        if not EARLIEST_S <= value <= latest:
            raise ValueError(
                f"{flag} must be from {_iso(EARLIEST_S)} to {_iso(latest)} (now less the {SETTLE_S} s an interval "
                "takes to settle before it is judged)"
            )
    if end <= start:
        raise ValueError("--to must be after --from")
    return start, end


def _check_alerting(settings: Settings, customer_ids: list[int]) -> None:
    """ValueError naming the first of `customer_ids` that is no customer, or whose plan does not allow alerts (the
    scheduler runs no rounds of theirs)."""
    from sightline.auth.service import open_auth

    auth = open_auth(settings)
    try:
        customers = auth.accounts.list_customers()
    finally:
        auth.close()
    for customer_id in customer_ids:
        _check_plan(_customer(customers, customer_id))


def _check_plan(customer: CustomerInfo) -> None:
    """ValueError when the customer's plan does not allow alerts."""
    from sightline.auth.plans import Feature, plan_for

    plan = plan_for(customer.plan_level)
    if Feature.ALERTS not in plan.features:
        raise ValueError(f"--customer {customer.id}: its plan, {plan.name}, does not include alerts")


def _iso(epoch_s: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _customer(customers: list[CustomerInfo], customer_id: int) -> CustomerInfo:
    """The customer of `customer_id` among `customers`; ValueError when there is none."""
    found = [customer for customer in customers if customer.id == customer_id]
    if not found:
        raise ValueError(f"no customer {customer_id} (`sightline customers list` lists them)")
    return found[0]


def _rule_action(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    action: RuleAction,
    writes: bool = False,
) -> argparse.ArgumentParser:
    """A subcommand of `alertrules`; one that `writes` rules needs a customer whose plan allows alerts, as the API
    does (reading and deleting do not: an operator may clean up after a plan changed)."""
    parser = group.add_parser(name, help=help_text)
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./sightline-data)")
    parser.add_argument("--customer", type=int, required=True, help="the customer id")
    parser.set_defaults(run=lambda args: _with_rules(action, args, writes))
    return parser


def _rule_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", dest="json_file", help="the rule as JSON (the API's body); - for stdin")
    parser.add_argument("--name")
    parser.add_argument("--type", choices=["ai", "manual"])
    parser.add_argument("--metric", help="an alertable metric (docs/alerts.md)")
    parser.add_argument("--dimensions", help="comma-separated: scope selected; empty: scope all")
    parser.add_argument("--pairs", action=argparse.BooleanOptionalAction, help="cohorts of pairs of dimensions too")
    parser.add_argument("--interval", type=int, help="seconds: 60, 300, 600 or 3600")
    parser.add_argument("--window", type=int, help="seconds judged each interval: a multiple of the interval")
    parser.add_argument("--min-attempts", type=int)
    parser.add_argument("--min-users", type=int)
    parser.add_argument("--sensitivity", type=float, help="ai rules: 0 to 1")
    parser.add_argument("--condition", choices=["fixed", "relative"], help="manual rules")
    parser.add_argument("--threshold", type=float, help="manual rules")
    parser.add_argument(
        "--recipient",
        type=_recipient,
        action="append",
        help="KIND:TARGET[:LEVEL] (repeatable), e.g. email:ops@example.com:major; replaces the rule's recipients",
    )
    parser.add_argument("--enabled", action=argparse.BooleanOptionalAction)


def _with_rules(action: RuleAction, args: argparse.Namespace, writes: bool) -> None:
    from pydantic import ValidationError
    from sqlalchemy.orm import sessionmaker

    from sightline.alerts.store import RuleNotFoundError, RuleStore
    from sightline.auth.clock import utc_now
    from sightline.auth.service import open_auth
    from sightline.settings import existing_data_dir

    auth = open_auth(existing_data_dir(args.data_dir, metadata=True))
    try:
        customer = _customer(auth.accounts.list_customers(), args.customer)
        if writes:
            _check_plan(customer)
        action(RuleStore(sessionmaker(auth.engine, expire_on_commit=False), utc_now), args)
    except RuleNotFoundError as error:
        raise ValueError(str(error)) from None
    except ValidationError as error:
        raise ValueError(_field_errors(error)) from None
    finally:
        auth.close()


def _field_errors(error: ValidationError) -> str:
    """`error`'s problems, one line each: `field: message`, the field named as the API names it
    (`recipients[0].kind`); no input, which may hold a webhook's secret."""
    from sightline.api.errors import validation_parameter

    lines = []
    for problem in error.errors():
        field = validation_parameter(("body", *problem["loc"]), problem["type"]) if problem["loc"] else ""
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(message if not field or message.startswith(field) else f"{field}: {message}")
    return "\n".join(lines)


def _fields(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """`base` (the rule's fields) with those the flags give."""
    fields = dict(base)
    if args.json_file is not None:
        fields.update(_json_rule(args.json_file))
    fields.update({field: getattr(args, flag) for flag, field in _FLAGS.items() if getattr(args, flag) is not None})
    if args.dimensions is not None:
        names = [name.strip() for name in args.dimensions.split(",") if name.strip()]
        fields.update(scope="selected" if names else "all", dimensions=names)
    for flag in ("pairs", "enabled"):
        if getattr(args, flag) is not None:
            fields[flag] = getattr(args, flag)
    if args.recipient is not None:
        fields["recipients"] = args.recipient
    return fields


def _json_rule(source: str) -> dict[str, Any]:
    """The JSON object in file `source` (- for stdin); ValueError naming `--json` when there is none."""
    try:
        given = json.loads(sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"--json {source}: {error.strerror}") from None
    except ValueError as error:  # not UTF-8, or not JSON
        raise ValueError(f"--json {source}: not JSON ({error})") from None
    if not isinstance(given, dict):
        raise ValueError(f"--json {source}: the JSON must be an object (the API's body)")
    return given


def _recipient(text: str) -> dict[str, str]:
    """A recipient from `KIND:TARGET[:LEVEL]`. What follows the last colon is a level when it is a word (a URL's
    port or path is not): one of the levels, else ArgumentTypeError. Without a level, the level is warning."""
    from sightline.alerts.notify import Level

    kind, _, rest = text.partition(":")
    target, colon, level = rest.rpartition(":")
    if not (colon and level.isalpha()):
        return {"kind": kind, "target": rest, "level": "warning"}
    if level not in get_args(Level):
        allowed = ", ".join(get_args(Level))
        raise argparse.ArgumentTypeError(f"unknown level {level!r} in {text!r}; a level is one of {allowed}")
    return {"kind": kind, "target": target, "level": level}


def _print(rule: Any) -> None:
    from sightline.alerts.rules import rule_json

    print(json.dumps(rule_json(rule), indent=2, ensure_ascii=False))


def _list(rules: RuleStore, args: argparse.Namespace) -> None:
    for rule in rules.rules(args.customer):
        scope = ",".join(rule.dimensions) or "all"
        name = rule.name if rule.name.isprintable() else repr(rule.name)  # one line a rule, whatever old data holds
        print(f"{rule.id}\t{'on' if rule.enabled else 'off'}\t{rule.type}\t{rule.metric.name}\t{scope}\t{name}")


def _show(rules: RuleStore, args: argparse.Namespace) -> None:
    _print(rules.rule(args.customer, args.id))


def _add(rules: RuleStore, args: argparse.Namespace) -> None:
    from sightline.alerts.rules import RuleInput

    _print(rules.add(args.customer, RuleInput.model_validate(_fields(args, {}))))


def _update(rules: RuleStore, args: argparse.Namespace) -> None:
    from sightline.alerts.rules import RuleInput

    current = rules.rule(args.customer, args.id).to_input().model_dump()
    _print(rules.replace(args.customer, args.id, RuleInput.model_validate(_fields(args, current))))


def _delete(rules: RuleStore, args: argparse.Namespace) -> None:
    rules.delete(args.customer, args.id)
    print(f"deleted rule {args.id} of customer {args.customer}")
