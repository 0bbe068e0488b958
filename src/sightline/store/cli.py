"""`sightline quarantine list|replay`: the units of spool segments the store refused on their own
(`store.quarantine`, docs/reliability.md).

`list` reads the quarantine directory only, so it works while the server runs. `replay` inserts units into
the store under their own deduplication tokens, so it needs the data directory to itself (stop the server
first: one process owns it). Errors are StoreError or ValueError, which `sightline.cli.main` prints as one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sightline.settings import Settings, existing_data_dir
from sightline.store import quarantine


def register_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the quarantine commands to `sightline`'s subcommands."""
    group = commands.add_parser("quarantine", help="spool units the store refused (docs/reliability.md)")
    actions = group.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list them: name, customers, rows, when, why")
    listing.set_defaults(run=_list)
    replay = actions.add_parser("replay", help="insert them again (the server must be stopped)")
    replay.add_argument("names", nargs="*", metavar="NAME", help="units to replay (default: all)")
    replay.set_defaults(run=_replay)
    for parser in (listing, replay):
        parser.add_argument("--data-dir", type=Path, help="data directory (default ./sightline-data)")


def _settings(args: argparse.Namespace, *, store: bool) -> Settings:
    return existing_data_dir(args.data_dir, store=store, spool=True)


def _list(args: argparse.Namespace) -> None:
    for unit in quarantine.entries(_settings(args, store=False).data_dir / "spool"):
        customers = ",".join(str(c) for c in unit.customers)
        reason = " ".join(unit.reason.split())
        print(f"{unit.name}\t{customers}\t{unit.rows}\t{unit.quarantined_at or '-'}\t{reason}")


def _replay(args: argparse.Namespace) -> None:
    from sightline.store import open_store

    settings = _settings(args, store=True)
    store = open_store(settings)
    try:
        results = quarantine.replay(store, settings.data_dir / "spool", args.names)
    finally:
        store.close()
    for unit, refusal in results:
        if refusal is None:
            print(f"stored {unit.name} ({unit.rows} rows)")
        else:
            print(f"refused {unit.name}: {' '.join(refusal.split())}")
    if any(refusal is not None for _, refusal in results):
        sys.exit(1)
