"""`sightline customers|users|apikeys|ingestkeys …`: account administration from the command line.

Passwords come from standard input (first line) or, on a terminal, from a prompt asked twice; never
from an argument, which other users of the machine could read. Only `customers add` makes a data directory that
does not exist; the others refuse it (they would answer from an empty one, made for them). Errors are
AccountError or ValueError, which `sightline.cli.main` prints as one line.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sightline.auth.kinds import KeyKind, Role

if TYPE_CHECKING:
    from sightline.auth.service import AuthService

Action = Callable[["AuthService", argparse.Namespace], None]


def register_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the account commands to `sightline`'s subcommands."""
    customers = _group(commands, "customers", "customers and their plan levels")
    add = _action(customers, "add", "add a customer (makes the data directory)", _customers_add, makes=True)
    add.add_argument("--id", type=int, required=True, help="numeric customer id")
    add.add_argument("--name", required=True)
    add.add_argument("--plan-level", type=int, required=True, help="see docs/plans.md")
    _action(customers, "list", "list the customers", _customers_list)

    users = _group(commands, "users", "users (password from stdin or a prompt)")
    add = _action(users, "add", "add a user of one or more customers", _users_add)
    add.add_argument("username", help="a username or an e-mail address")
    add.add_argument("--customer", type=int, action="append", required=True, help="a customer id (repeatable)")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.VIEWER.value)
    _action(users, "list", "list the users", _users_list)
    passwd = _action(users, "passwd", "change a user's password (revokes the user's tokens)", _users_passwd)
    passwd.add_argument("username")

    for kind, name in ((KeyKind.API, "apikeys"), (KeyKind.INGEST, "ingestkeys")):
        what = "API keys (X-API-Key)" if kind is KeyKind.API else "ingest keys (public, for players' beacons)"
        keys = _group(commands, name, what)
        create = _action(keys, "create", "create a key; it is printed once", _keys_create, kind=kind)
        create.add_argument("--customer", type=int, required=True)
        create.add_argument("--label", default="")
        revoke = _action(keys, "revoke", "revoke a key by its id", _keys_revoke, kind=kind)
        revoke.add_argument("id", type=int)
        listing = _action(keys, "list", "list the keys (never their secrets)", _keys_list, kind=kind)
        listing.add_argument("--customer", type=int)


def _group(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    parser = commands.add_parser(name, help=help_text)
    return parser.add_subparsers(dest="action", required=True)


def _action(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    action: Action,
    kind: KeyKind | None = None,
    makes: bool = False,
) -> argparse.ArgumentParser:
    """A command of `group` running `action`; `makes`: it may make a data directory that does not exist."""
    parser = group.add_parser(name, help=help_text)
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./sightline-data)")
    parser.set_defaults(run=lambda args: _run(action, args, makes), kind=kind)
    return parser


def _run(action: Action, args: argparse.Namespace, makes: bool) -> None:
    from sightline.auth.service import open_auth  # SQLAlchemy and Alembic only when a command runs
    from sightline.settings import existing_data_dir

    auth = open_auth(existing_data_dir(args.data_dir, metadata=not makes))
    try:
        action(auth, args)
    finally:
        auth.close()


def _customers_add(auth: AuthService, args: argparse.Namespace) -> None:
    customer = auth.accounts.add_customer(args.id, args.name, args.plan_level)
    print(f"added customer {customer.id} ({customer.name}), plan level {customer.plan_level}")


def _customers_list(auth: AuthService, args: argparse.Namespace) -> None:
    for c in auth.accounts.list_customers():
        print(f"{c.id}\t{c.plan_level}\t{c.name}")


def _users_add(auth: AuthService, args: argparse.Namespace) -> None:
    user = auth.accounts.add_user(args.username, _read_password(), args.customer, Role(args.role))
    print(f"added {user.role.value} {user.username} of customers {', '.join(map(str, user.customer_ids))}")


def _users_list(auth: AuthService, args: argparse.Namespace) -> None:
    for u in auth.accounts.list_users():
        print(f"{u.username}\t{u.role.value}\t{','.join(map(str, u.customer_ids))}")


def _users_passwd(auth: AuthService, args: argparse.Namespace) -> None:
    auth.accounts.set_password(args.username, _read_password())
    print(f"changed the password of {args.username}; its tokens are revoked")


def _keys_create(auth: AuthService, args: argparse.Namespace) -> None:
    key, secret = auth.accounts.create_key(args.kind, args.customer, args.label)
    note = f"created {key.kind.value} key {key.id} of customer {key.customer_id}; it is shown only now:"
    print(note, file=sys.stderr)
    print(secret)


def _keys_revoke(auth: AuthService, args: argparse.Namespace) -> None:
    key = auth.accounts.revoke_key(args.kind, args.id)
    print(f"revoked {key.kind.value} key {key.id} ({key.prefix}…) of customer {key.customer_id}")


def _keys_list(auth: AuthService, args: argparse.Namespace) -> None:
    for k in auth.accounts.list_keys(args.kind, args.customer):
        state = f"revoked {k.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if k.revoked_at else "active"
        print(f"{k.id}\t{k.customer_id}\t{k.prefix}…\t{state}\t{k.label}")


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise ValueError("the passwords differ")
    return password
