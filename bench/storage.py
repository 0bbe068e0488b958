"""Storage and ingest cost per event, the inputs of the capacity model of docs/deploy.md.

    .venv/bin/python bench/storage.py [--days 2] [--scale 5]

Simulates `--days` of traffic of customers 1001 and 1002 (seed 7) into a fresh embedded store, the chunks made
before each insert so that only the insert is timed: wall time and the process's CPU time (every thread of the
engine, which runs in process) around each `insert_events`. Then every table is merged to one part per partition
(`OPTIMIZE … FINAL`, as the engine's merges leave a settled day), and `system.parts` gives each table's rows and
compressed bytes, per stored event; the simulated views give the beacon rate per viewer (events per second of a
view's span, first to last event). Prints markdown; docs/deploy.md quotes it.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import by_hand, git_revision, machine
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from sightline.store import Store, open_store


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _insert(store: Store, config: SimulationConfig) -> tuple[int, float, float]:
    """Events inserted, wall seconds and CPU seconds of the inserts alone."""
    events, wall, cpu = 0, 0.0, 0.0
    for chunk in simulate(config):
        started, cpu_started = time.perf_counter(), _cpu_s()
        store.insert_events(chunk.events)
        wall += time.perf_counter() - started
        cpu += _cpu_s() - cpu_started
        events += chunk.events.num_rows
    return events, wall, cpu


def _tables(store: Store) -> list[dict[str, int | str]]:
    names = store.query(
        by_hand("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'")
    )
    for name in names.column("name").to_pylist():
        store.execute(by_hand(f"OPTIMIZE TABLE `{name}` FINAL"))
    rows: list[dict[str, int | str]] = store.query(
        by_hand(
            "SELECT table, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed, "
            "sum(data_uncompressed_bytes) AS uncompressed, count() AS parts FROM system.parts "
            "WHERE database = currentDatabase() AND active GROUP BY table ORDER BY compressed DESC"
        )
    ).to_pylist()
    return rows


def _beacon_rate(store: Store) -> tuple[int, float, float]:
    """Views, events per second of a view's span (first to last event, over every view), and the mean span (s)."""
    row = store.query(
        by_hand(
            "SELECT count() AS views, sum(events) / sum(span_s) AS rate, avg(span_s) AS span FROM (SELECT view_id, "
            "count() AS events, greatest(dateDiff('millisecond', min(ts), max(ts)) / 1000, 1) AS span_s "
            "FROM events GROUP BY view_id)"
        )
    ).to_pylist()[0]
    return int(row["views"]), float(row["rate"]), float(row["span"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--scale", type=float, default=5.0)
    args = parser.parse_args()
    end = datetime(2026, 11, 1, tzinfo=UTC)
    config = SimulationConfig(
        start=end - timedelta(days=args.days), end=end, customer_ids=(1001, 1002), seed=7, scale=args.scale
    )
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(Settings(data_dir=Path(directory)))
        try:
            events, wall, cpu = _insert(store, config)
            views, rate, span = _beacon_rate(store)
            started, cpu_started = time.perf_counter(), _cpu_s()
            tables = _tables(store)
            merge_wall, merge_cpu = time.perf_counter() - started, _cpu_s() - cpu_started
        finally:
            store.close()
    print(f"- command: `python bench/storage.py --days {args.days:g} --scale {args.scale:g}`")
    print(f"- machine: {machine()}")
    print(f"- run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, revision {git_revision()}")
    print(
        f"\n{events:,} events, {views:,} views; {events / views:.1f} events per view, a view's span {span:.0f} s "
        f"on average (first to last event), {rate:.4f} events/s per view"
    )
    print(
        f"inserts (events + every materialized view): {wall:.1f} s wall, {cpu:.1f} s CPU: "
        f"{events / wall:,.0f} events/s, {events / cpu:,.0f} events per CPU-second"
    )
    print(f"merging every table into one part per partition: {merge_wall:.1f} s wall, {merge_cpu:.1f} s CPU\n")
    print("| table | rows | parts | compressed MiB | uncompressed MiB | ratio | compressed bytes per event |")
    print("|---|---|---|---|---|---|---|")
    total = 0
    for t in tables:
        compressed, uncompressed = int(t["compressed"]), int(t["uncompressed"])
        total += compressed
        print(
            f"| {t['table']} | {int(t['rows']):,} | {t['parts']} | {compressed / 2**20:,.1f} | "
            f"{uncompressed / 2**20:,.1f} | {uncompressed / max(compressed, 1):.1f} | {compressed / events:.2f} |"
        )
    print(f"| all | | | {total / 2**20:,.1f} | | | {total / events:.2f} |")


if __name__ == "__main__":
    main()
