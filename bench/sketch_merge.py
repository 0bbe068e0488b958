"""What merging the startup-time sketches of the rollups costs: a p95 over many rollup rows, timed in the engine.

    .venv/bin/python bench/sketch_merge.py --data-dir PATH [--column C --merge F] [--repeats 30]

Reads the data directory of bench/query.py (customer 1001) and times, in process on the store, four reads of
the 95th percentile of start times: over `rollup_1h` (1 row an hour), over `rollup_1h_content` (a row per
title and hour) whole and by title, and over `rollup_1m` by hour. `--column` and `--merge` name the sketch
and its merge function (default: the catalog's DDSketch), so that a store of an earlier schema (a t-digest,
`--column startup_ms_digest --merge 'quantileTDigestMerge(0.95)'`) is timed by the same reads. Prints the
medians and the stored size of the column per rollup, in Markdown.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchlib import by_hand
from sightline.catalog.parts import SKETCH_ACCURACY
from sightline.store import EmbeddedStore

CUSTOMER = 1001


def reads(column: str, merge: str) -> dict[str, str]:
    where = f"WHERE customer_id = {CUSTOMER}"
    return {
        "`rollup_1h`, the whole week": f"SELECT {merge}({column}) FROM rollup_1h {where}",
        "`rollup_1h_content`, the whole week": f"SELECT {merge}({column}) FROM rollup_1h_content {where}",
        "`rollup_1h_content` by title, top 100": (
            f"SELECT assetid, {merge}({column}) AS q FROM rollup_1h_content {where} GROUP BY assetid "
            "ORDER BY q DESC LIMIT 100"
        ),
        "`rollup_1m` by hour": (
            f"SELECT toStartOfHour(bucket) AS h, {merge}({column}) FROM rollup_1m {where} GROUP BY h ORDER BY h"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--column", default="startup_ms_sketch")
    parser.add_argument("--merge", default=f"quantileDDMerge({SKETCH_ACCURACY}, 0.95)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    store = EmbeddedStore(args.data_dir)
    try:
        rows = store.query(
            by_hand(
                "SELECT table, sum(rows) AS rows, sum(data_compressed_bytes) AS stored FROM system.parts_columns "
                "WHERE database = currentDatabase() AND active AND column = {column:String} GROUP BY table "
                "ORDER BY table",
                {"column": args.column},
            ),
        ).to_pylist()
        print(f"`{args.column}`, `{args.merge}`\n\n| read | p50 ms |\n|---|---|")
        for name, sql in reads(args.column, args.merge).items():
            for _ in range(3):
                store.query(by_hand(sql))
            times = []
            for _ in range(args.repeats):
                began = time.perf_counter()
                store.query(by_hand(sql))
                times.append((time.perf_counter() - began) * 1000)
            print(f"| {name} | {statistics.median(times):.1f} |")
        print("\n| rollup | rows | stored (compressed) |\n|---|---|---|")
        for row in rows:
            print(f"| `{row['table']}` | {row['rows']:,} | {row['stored'] / 2**20:.1f} MiB |")
    finally:
        store.close()


if __name__ == "__main__":
    main()
