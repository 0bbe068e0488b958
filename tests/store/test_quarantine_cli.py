"""`sightline quarantine list|replay` as an operator runs it, on a data directory whose writer quarantined a
unit the store refuses on its own, beside one that the store takes again."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from sightline.settings import Settings
from sightline.store import open_store, quarantine
from sightline.store.writer import BatchingWriter
from tests.store.test_writer_isolation import (
    RETRY_S,
    SEAL_S,
    counts,
    keep_traffic_until,
    months_apart,
    one_segment,
    run,
)


def sightline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sightline", *args], capture_output=True, text=True, timeout=120)


def test_an_operator_lists_the_quarantine_and_replays_what_the_store_takes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    spool_dir = data_dir / "spool"
    store = open_store(Settings(data_dir=data_dir))
    try:
        writer = BatchingWriter(store, spool_dir, max_delay_s=SEAL_S, retry_delays_s=RETRY_S)
        one_segment(writer, [months_apart(1, 0), run(2, 0)])
        keep_traffic_until(writer, lambda: bool(quarantine.entries(spool_dir)))
        writer.close()
        quarantine.put(spool_dir, "earlier.c3", [run(3, 0)], "the engine was out of memory")  # it would take it now
    finally:
        store.close()

    listed = sightline("quarantine", "list", "--data-dir", str(data_dir))
    assert listed.returncode == 0, listed.stderr
    lines = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(name, customers, rows) for name, customers, rows, _, _ in lines] == [
        (quarantine.entries(spool_dir)[0].name, "1", "1000"),
        ("earlier.c3", "3", "3"),
    ]
    assert "Too many partitions" in lines[0][4]

    replayed = sightline("quarantine", "replay", "--data-dir", str(data_dir))
    assert replayed.returncode == 1  # one is still refused
    assert replayed.stdout.splitlines()[1] == "stored earlier.c3 (3 rows)"
    assert replayed.stdout.startswith(f"refused {lines[0][0]}: Code: 252.")
    assert [unit.customers for unit in quarantine.entries(spool_dir)] == [(1,)]

    store = open_store(Settings(data_dir=data_dir))
    try:
        assert counts(store)[3] == (3, 1, 3000)
    finally:
        store.close()

    lock = os.open(data_dir / "sightline.lock", os.O_RDWR)  # a running server owns the data directory
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        refused = sightline("quarantine", "replay", "--data-dir", str(data_dir))
    finally:
        os.close(lock)
    assert refused.returncode == 2
    assert refused.stderr.startswith("sightline: data directory")
    assert "in use" in refused.stderr
    assert sightline("quarantine", "replay", "nosuch", "--data-dir", str(data_dir)).stderr == (
        "sightline: no quarantined unit named nosuch; see `sightline quarantine list`\n"
    )
