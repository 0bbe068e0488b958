"""The `sightline` command: serve, migrate, copy, simulate, demo, docs.

Expected failures (a data directory owned by another process, a bad flag) print one line to stderr (a line per
problem, as for a rule's fields) and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from sightline.alerts.cli import register_alert_commands
from sightline.auth.cli import register_commands
from sightline.settings import Settings
from sightline.store import StoreError
from sightline.store.cli import register_commands as register_quarantine_commands


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        k: v
        for k, v in {
            "data_dir": args.data_dir,
            "store_url": getattr(args, "store_url", None),
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
            "tls_cert": getattr(args, "tls_cert", None),
            "tls_key": getattr(args, "tls_key", None),
        }.items()
        if v is not None
    }
    return _valid_settings(**overrides)


def _valid_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as error:  # one line per setting refused, no input in it (a URL's password)
        raise ValueError("; ".join(_refused(problem) for problem in error.errors())) from None


def _refused(problem: ErrorDetails) -> str:
    name = ".".join(str(part) for part in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    return message if message.startswith(name) else f"{name}: {message}"


@contextmanager
def _migrations_lease(settings: Settings) -> Iterator[None]:
    """The block run under the store's migrations lease (`store.opening.LEASE`) in the metadata database of
    `settings`, as the service's processes take it at start: one process migrates a server store at a time."""
    from sightline.auth.db import migrate, open_engine
    from sightline.auth.leases import holding
    from sightline.store.opening import LEASE

    engine = open_engine(settings.metadata_database_url())
    try:
        migrate(engine)
        with holding(engine, LEASE, timedelta(seconds=settings.lease_ttl_s)):
            yield
    finally:
        engine.dispose()


def _serve(args: argparse.Namespace) -> None:
    from sightline.app import create_app
    from sightline.server import serve, tls_files
    from sightline.store.opening import check_reachable

    settings = _settings(args)
    tls = tls_files(settings)
    check_reachable(settings)
    serve(create_app(settings), settings, tls, log_level="info")


def _migrate(args: argparse.Namespace) -> None:
    from sightline.smartquery.stored_days import outdated_slices
    from sightline.store import open_store
    from sightline.store.migrations import MIGRATIONS, Migrated
    from sightline.store.opening import store_name

    def report(migrated: Migrated) -> None:
        for line in migrated.lines():
            print(line)

    settings = _settings(args)
    store = open_store(settings, report=report, migrating=partial(_migrations_lease, settings))
    try:
        for kind, count in outdated_slices(store).items():
            outdated = "1 day's slice" if count == 1 else f"{count} days' slices"
            computed = "it" if count == 1 else "them"
            print(
                f"stored days of {kind}: {outdated} of another catalog version, not read; "
                f"`sightline serve` computes {computed} again"
            )
    finally:
        store.close()
    print(f"schema at version {MIGRATIONS[-1].version} in {store_name(settings)}")


def _copy(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from sightline.store import open_store
    from sightline.store.copy import copy_events
    from sightline.store.migrations import event_counts
    from sightline.store.opening import store_name

    scheme, _, directory = args.source.partition("://")
    if scheme != "chdb" or not directory:
        raise ValueError(f"--from must be chdb://DIR, the data directory to copy, not {args.source!r}")
    source = open_store(_valid_settings(data_dir=Path(directory)))
    try:
        settings = _valid_settings(store_url=args.to)
        destination = open_store(settings, migrating=partial(_migrations_lease, settings))
        try:
            total = sum(count for _, _, count in event_counts(source))
            with tqdm(total=total, unit=" events", unit_scale=True, desc="copying") as bar:
                copied = copy_events(source, destination, progress=bar.update)
        finally:
            destination.close()
    finally:
        source.close()
    print(f"copied {copied.inserted} events to {store_name(settings)}; {copied.present} were there already")


def _simulate(args: argparse.Namespace) -> None:
    from sightline.simulate.cli import simulate_command

    simulate_command(
        _settings(args),
        days=args.days,
        end=args.end,
        incidents=args.incidents,
        scale=args.scale,
        seed=args.seed,
        customers=tuple(args.customers),
        truth=args.truth,
    )


def _demo(args: argparse.Namespace) -> None:
    from sightline.demo import run_demo

    run_demo(_settings(args), days=args.days, scale=args.scale, seed_value=args.seed)


def _docs(args: argparse.Namespace) -> None:
    from sightline.docs import write_documents

    for path in write_documents(Path(args.out)):
        print(f"wrote {path}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sightline", description="Video QoE analytics on ClickHouse.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, *, server: bool = False) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--data-dir", type=Path, help="data directory (default ./sightline-data)")
        sub.add_argument(
            "--store-url", help="chdb:// (default) or clickhouse://USER:PASS@HOST:PORT/DB (docs/deploy.md)"
        )
        if server:
            sub.add_argument("--host", help="address to listen on (default 127.0.0.1)")
            sub.add_argument("--port", type=int, help="port to listen on (default 8000)")
            sub.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve HTTPS (with --tls-key)")
            sub.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
        return sub

    command("serve", "run the API service", server=True).set_defaults(run=_serve)
    command("migrate", "create or upgrade the schema, recount what a changed catalog derives").set_defaults(
        run=_migrate
    )
    copy = commands.add_parser("copy", help="copy a data directory's events into a ClickHouse server")
    copy.add_argument("--from", dest="source", required=True, help="chdb://DIR: the data directory")
    copy.add_argument("--to", required=True, help="clickhouse://USER:PASS@HOST:PORT/DB (docs/architecture.md)")
    copy.set_defaults(run=_copy)
    simulate = command("simulate", "write simulated traffic with ground truth")
    simulate.add_argument("--days", type=float, default=1.0, help="days of traffic ending at --end")
    simulate.add_argument("--end", help="end of the simulated period, ISO 8601 with a time zone (default now)")
    simulate.add_argument(
        "--incidents", metavar="FILE|none", help="incidents to inject: a JSON file (docs/simulator.md), or none"
    )
    simulate.add_argument("--scale", type=float, default=1.0, help="traffic multiplier")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--customers", type=int, nargs="+", default=[1001, 1002], help="customer ids")
    simulate.add_argument("--truth", type=Path, help="where to write the ground truth")
    simulate.set_defaults(run=_simulate)
    demo = command("demo", "fresh data, demo customers, simulated traffic, then the service", server=True)
    demo.add_argument("--days", type=float, default=7.0, help="days of traffic ending now")
    demo.add_argument("--scale", type=float, default=1.0, help="traffic multiplier")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(run=_demo)
    docs = commands.add_parser("docs", help="write the documents generated from the catalog")
    docs.add_argument("--out", default="docs", help="directory to write into")
    docs.set_defaults(run=_docs)
    register_commands(commands)
    register_quarantine_commands(commands)
    register_alert_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (StoreError, ValueError) as error:
        for line in str(error).splitlines():  # one problem a line, each prefixed
            print(f"sightline: {line}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
