"""Helpers shared by the benchmarks: the machine's description, writing a section of docs/benchmarks.md, and
the app over a benchmark's data directory with a customer and an API key."""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI

from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.query.printer import _PRINTED, Statement
from sightline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
_HEADER = """# Benchmarks

Each section is written by the command it names, on the machine it names; numbers of one section come
from one run. The machine is shared and noisy: compare ratios measured in the same run, not absolute
numbers across sections.
"""


def machine() -> str:
    """CPU model, cores, memory, Python and chDB versions of this machine."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    import chdb

    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB; Python {platform.python_version()}, "
        f"chDB {chdb.__version__} (engine {chdb.engine_version})"
    )


def git_revision() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


def load_average() -> str:
    """The machine's load (as `uptime` says it), to stamp a run on a shared machine."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min)"


def serve(data_dir: Path, port: int, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """`sightline serve` of `data_dir` on `port` in a session of its own, with the environment `env`, once it
    answers `/healthz`."""
    server = subprocess.Popen(
        [sys.executable, "-m", "sightline", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=dict(env),
    )  # fmt: skip
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not come up")


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_section(name: str, command: str, body: str) -> None:
    """Replace (or append) the section `name` of docs/benchmarks.md with `body`, stamped with machine and command."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else _HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {name}\n\n- command: `{command}`\n- machine: {machine()}\n"
        f"- run: {stamp}, revision {git_revision()}\n\n{body.strip()}\n<!-- /bench:{name} -->"
    )
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS_MD.write_text(text)


@contextmanager
def harness_store_url(data_dir: Path) -> Iterator[str]:
    """The store URL of the loopback ClickHouse-HTTP test harness (tests/clickhouse_http/) serving `data_dir`
    in a process of its own, until the block ends: the server backend over the embedded engine's version."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # the harness is the tests' own: bench/ runs it from the checkout
    from tests.clickhouse_http.process import running_harness, url_text

    with running_harness(data_dir) as url:
        yield url_text(url)


@contextmanager
def benchmark_app(
    data_dir: Path, customer: int, plan_level: int, store_url: str = "chdb://"
) -> Iterator[tuple[FastAPI, str]]:
    """The app over the store of `store_url` (the embedded engine in `data_dir` by default; else `data_dir` holds
    the app's own files), not started, its accounts in a temporary database holding `customer` with
    `plan_level`, and an API key of that customer."""
    with tempfile.TemporaryDirectory() as accounts:
        settings = Settings(
            data_dir=data_dir,
            store_url=store_url,
            metadata_url=f"sqlite:///{Path(accounts) / 'metadata.db'}",
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            alert_rounds=False,  # the customer's default AI rules would run their rounds while the queries are timed
        )
        app = create_app(settings)
        app.state.auth.accounts.add_customer(customer, "Benchmark", plan_level)
        yield app, app.state.auth.accounts.create_key(KeyKind.API, customer)[1]


def _client_loop(connection: Connection, port: int, headers: dict[str, str]) -> None:
    """The child of `ClientProcess`: GET each path it is sent on one kept-alive HTTP/1.1 connection (a plain
    socket: the answer's status line, Content-Length and body, nothing more parsed, so that the client adds
    as little as it can to the time); send back the milliseconds from the request to the last byte of the
    answer, the status and the body."""
    server = socket.create_connection(("127.0.0.1", port))
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    received = b""
    while (request := connection.recv()) is not None:
        path, extra = request
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in {**headers, **extra}.items())]
        began = time.perf_counter()
        server.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in received:
            received += server.recv(65536)
        head, received = received.split(b"\r\n\r\n", 1)
        declared = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        if declared is None:
            raise RuntimeError(f"an answer without Content-Length: {head!r}")
        length = int(declared.group(1))
        while len(received) < length:
            received += server.recv(65536)
        body, received = received[:length], received[length:]
        elapsed = (time.perf_counter() - began) * 1000
        connection.send((elapsed, int(head.split(b" ", 2)[1]), body))


class ClientProcess:
    """An HTTP client in a process of its own, so that its work neither shares the server's GIL nor counts in
    the server's time: `get` returns the milliseconds the child measured around the request alone."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_client_loop, args=(child, port, headers), daemon=True)
        self._process.start()

    def get(
        self, path: str, params: dict[str, str], headers: dict[str, str] | None = None, expect: int = 200
    ) -> tuple[float, Any]:
        """(ms, the JSON answer); raises when the status is not `expect`."""
        self._connection.send((f"{path}?{urlencode(params)}", headers or {}))
        elapsed, status, body = self._connection.recv()
        if status != expect:
            raise RuntimeError(f"GET {path} answered {status}, not {expect}: {body[:300]!r}")
        return elapsed, json.loads(body)

    def close(self) -> None:
        self._connection.send(None)
        self._process.join(timeout=10)


def by_hand(sql: str, params: Mapping[str, str | int | float] | None = None) -> Statement:
    """SQL written by hand (the best we can write, to compare with the compiled; system tables), as a statement
    the store runs: the store runs only what the printer made, so a benchmark takes the printer's token here,
    on purpose and in this one place (as tests/handwritten.py does for the tests)."""
    return Statement(sql, dict(params or {}), _PRINTED)
