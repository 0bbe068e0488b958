"""Faults and bad input against a real `sightline serve`: what was acknowledged, stored, lost and duplicated,
and how long another customer's views took to show meanwhile.

    .venv/bin/python bench/reliability.py [--only SCENARIO ...]

Each scenario starts a server on a fresh data directory with customers A (1) and B (2). B posts batches of
50 events of new views all along from two threads, each every 20 ms at most (as fast as answered in the kill
scenarios), and a probe view every half second, timing from the 200 to the moment
`listsessions?sessionid=` finds it (the writer seals a segment every second: that is the floor). A, or the
scenario, does the damage. Afterwards the server is stopped and the store read directly: an acknowledged view
missing events is lost, a (view, seq) stored twice is duplicated. The two disk-full scenarios mount a small
tmpfs (they need root; without it they say so). Writes the table of docs/reliability.md (only when every
scenario ran); the last scenario's server log is left in $TMPDIR/sightline-reliability.log.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_ports import free_port
from benchlib import by_hand, git_revision, machine
from sightline.settings import Settings
from sightline.store import open_store, quarantine, spool
from sightline.store.layout import ViewEvents

RELIABILITY_MD = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
A, B = 1, 2
EVENTS = 50
PACE_S = 0.02
B_LOAD = "B: 2 × 50 events every 20 ms"
"""A sender posts a batch of `EVENTS` every 20 ms at most: B's two senders (at most 5,000 events/s) leave the
server room, so that what B waits for is the fault, not a full machine; the kill scenarios post as fast as they
are answered."""
WRITER_DELAY_S = 1.0
WIDE_WINDOW = {
    "SIGHTLINE_EVENT_MAX_LATE_S": str(100 * 365 * 86_400),
    "SIGHTLINE_EVENT_MAX_AHEAD_S": str(100 * 365 * 86_400),
}


def now_ms() -> int:
    return int(time.time() * 1000)


def uuid7(at_ms: int) -> uuid.UUID:
    return uuid.UUID(int=(at_ms << 80) | (0x7 << 76) | (0b10 << 62) | uuid.uuid4().int & (2**62 - 1))


def heartbeats(start_ms: int, count: int = EVENTS) -> list[dict[str, Any]]:
    return [{"event": "heartbeat", "ts": start_ms + k, "seq": k, "started": 1, "play_ms": 1000} for k in range(count)]


def months_apart() -> list[dict[str, Any]]:
    """The issue's batch: 1,000 heartbeats on the 15th of each month from January 2000 (84 years)."""
    times = [int(datetime(2000 + k // 12, k % 12 + 1, 15, tzinfo=UTC).timestamp() * 1000) for k in range(1000)]
    return [{"event": "heartbeat", "ts": t, "seq": k, "started": 1, "play_ms": 1000} for k, t in enumerate(times)]


def cli(data_dir: Path, *args: str) -> str:
    command = [sys.executable, "-m", "sightline", *args, "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


class Server:
    """`sightline serve` on `data_dir` in a process group of its own."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir, self.env, self.port = data_dir, env, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "SIGHTLINE_WRITER_MAX_DELAY_S": str(WRITER_DELAY_S), **self.env}
        command = [sys.executable, "-m", "sightline", "serve", "--data-dir", str(self.data_dir)]
        with (self.data_dir.parent / "server.log").open("ab") as log:  # the writer's warnings, for a look
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            time.sleep(0.2)
        raise SystemExit("the server did not come up")

    def signal(self, number: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, number)
        self.process.wait(120)

    def peak_rss_mib(self) -> float:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(found.group(1)) / 1024 if found else 0.0


Answer = tuple[int, bytes, dict[str, str]]


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


@dataclass
class Clients:
    """Everything the clients were told: per view, the events acknowledged; counts of answers by status;
    B's probe delays (seconds from the 200 to being found)."""

    server: Server
    keys: dict[int, str]
    api_key: str
    acknowledged: dict[str, int] = field(default_factory=dict)
    by_customer: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    """How long B's load ran."""
    answers: Counter[int] = field(default_factory=Counter)
    delays: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post_view(self, customer: int, view_id: uuid.UUID, events: list[dict[str, Any]]) -> int:
        """Post one native batch; the status (0: no answer), the acknowledged events noted."""
        body = json.dumps({"view_id": str(view_id), "dimensions": {"cdn": "akamai"}, "events": events}).encode()
        try:
            status, answer, headers = request(
                self.server.port, "POST", "/collect", body, {"X-Ingest-Key": self.keys[customer]}
            )
        except (OSError, http.client.HTTPException):
            status, answer, headers = 0, b"", {}
        with self.lock:
            self.answers[status] += 1
            if status == 200:
                self.acknowledged[str(view_id)] = json.loads(answer)["accepted"]
                self.by_customer[customer] += self.acknowledged[str(view_id)]
        if status == 503:
            time.sleep(float(headers.get("Retry-After", "1")))
        return status

    def found(self, view_id: uuid.UUID) -> bool:
        path = f"/mm-apis/listsessions/{B}?sessionid={view_id}"
        with suppress(OSError, http.client.HTTPException):
            return request(self.server.port, "GET", path, headers={"X-API-Key": self.api_key})[0] == 200
        return False


@contextmanager
def background(
    clients: Clients, customer: int = B, senders: int = 2, probe: bool = True, every_s: float = PACE_S
) -> Iterator[None]:
    """`senders` threads posting `customer`'s views, each a batch every `every_s` at most (0: as fast as the
    server answers), and B's prober, while the body runs."""
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            sent = time.monotonic()
            clients.post_view(customer, uuid7(now_ms()), heartbeats(now_ms()))
            stop.wait(max(0.0, every_s - (time.monotonic() - sent)))

    def prober() -> None:
        while not stop.is_set():
            view_id = uuid7(now_ms())
            if clients.post_view(B, view_id, heartbeats(now_ms(), 3)) == 200:
                answered = time.monotonic()
                while not clients.found(view_id) and time.monotonic() - answered < 60:
                    time.sleep(0.05)
                with clients.lock:
                    clients.delays.append(time.monotonic() - answered)
            stop.wait(0.5)

    threads = [threading.Thread(target=send) for _ in range(senders)] + (
        [threading.Thread(target=prober)] if probe else []
    )
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
        if customer == B:
            clients.seconds += time.monotonic() - started


@dataclass(frozen=True)
class Outcome:
    scenario: str
    load: str
    answers: str
    acknowledged: int
    b_rate: float
    stored: int
    lost: int
    duplicated: int
    delay: str
    quarantined: str


def tally(data_dir: Path, acknowledged: dict[str, int]) -> tuple[int, int, int]:
    """Of the acknowledged views: events stored, events lost; and (view, seq) pairs stored twice, of all views."""
    store = open_store(Settings(data_dir=data_dir))
    try:
        rows = store.query(
            by_hand("SELECT toString(view_id) AS v, count() AS n, uniqExact(seq) AS u FROM events GROUP BY v")
        ).to_pylist()
    finally:
        store.close()
    by_view = {row["v"]: (int(row["n"]), int(row["u"])) for row in rows}
    stored = sum(by_view.get(view, (0, 0))[0] for view in acknowledged)
    lost = sum(max(0, events - by_view.get(view, (0, 0))[1]) for view, events in acknowledged.items())
    duplicated = sum(n - u for n, u in by_view.values())
    return stored, lost, duplicated


def quarantined(data_dir: Path) -> str:
    units = quarantine.entries(data_dir / "spool")
    if not units:
        return "nothing"
    customers = sorted({c for unit in units for c in unit.customers})
    return f"{len(units)} unit(s), {sum(u.rows for u in units):,} rows of customer(s) {customers}"


def delays(clients: Clients) -> str:
    if not clients.delays:
        return "-"
    ordered = sorted(clients.delays)
    return f"{ordered[len(ordered) // 2]:.1f} / {ordered[-1]:.1f} s ({len(ordered)} probes)"


def answers(clients: Clients, extra: str = "") -> str:
    counted = ", ".join(f"{count:,}×{status or 'no answer'}" for status, count in sorted(clients.answers.items()))
    return f"{counted}{'; ' + extra if extra else ''}"


@contextmanager
def world(
    env: dict[str, str] | None = None,
    prepare: Callable[[Path], None] | None = None,
    tmpfs: tuple[str, int] | None = None,
) -> Iterator[Clients]:
    """A data directory with A, B and their keys; `prepare` runs on it before the server starts; `tmpfs`
    (a directory of it, MiB) mounts a tmpfs of that size there first."""
    with tempfile.TemporaryDirectory() as directory:
        data_dir = Path(directory) / "data"
        keys = {}
        for customer in (A, B):
            cli(data_dir, "customers", "add", "--id", str(customer), "--name", f"C{customer}", "--plan-level", "6831")
            keys[customer] = cli(data_dir, "ingestkeys", "create", "--customer", str(customer))
        api_key = cli(data_dir, "apikeys", "create", "--customer", str(B))
        server = Server(data_dir, env or {})
        mount = data_dir / tmpfs[0] if tmpfs else None
        try:
            if mount is not None and tmpfs is not None:
                mount.mkdir(parents=True, exist_ok=True)
                subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={tmpfs[1]}m", "tmpfs", str(mount)], check=True)
            if prepare is not None:
                prepare(data_dir)
            server.start()
            yield Clients(server, keys, api_key)
        finally:
            if server.process is not None and server.process.poll() is None:
                server.signal(signal.SIGTERM)
            if mount is not None:
                subprocess.run(["umount", str(mount)], check=False, capture_output=True)
            if (Path(directory) / "server.log").exists():
                (Path(directory) / "server.log").replace(Path(tempfile.gettempdir()) / "sightline-reliability.log")


def finish(clients: Clients, scenario: str, load: str, extra: str = "") -> Outcome:
    server = clients.server
    if server.process is not None and server.process.poll() is None:
        server.signal(signal.SIGTERM)
    stored, lost, duplicated = tally(server.data_dir, clients.acknowledged)
    b_rate = clients.by_customer[B] / clients.seconds if clients.seconds else 0.0
    return Outcome(scenario, load, answers(clients, extra), sum(clients.acknowledged.values()), b_rate, stored, lost,
                   duplicated, delays(clients), quarantined(server.data_dir))  # fmt: skip


def no_fault() -> Outcome:
    with world() as clients:
        with background(clients):
            time.sleep(15)
        return finish(clients, "no-fault", f"{B_LOAD}, 15 s")


def kill_9() -> Outcome:
    with world() as clients:
        for _ in range(3):
            with background(clients, A, probe=False, every_s=0), background(clients, B, probe=False, every_s=0):
                time.sleep(4)
                clients.server.signal(signal.SIGKILL)
            clients.server.start()  # recovers by itself: the spool's segments are inserted at start
        load = "A and B: 2 senders each, as fast as answered; SIGKILL after 4 s, 3 times"
        return finish(clients, "kill-9", load)


def kill_9_poisoned() -> Outcome:
    """kill -9 while the writer divides segments around A's poison batches (a window that takes any time)."""
    with world(env=WIDE_WINDOW) as clients:
        for _ in range(3):
            with background(clients, B, probe=False, every_s=0):
                for _ in range(4):
                    clients.post_view(A, uuid7(now_ms()), months_apart())
                    time.sleep(0.7)
                clients.server.signal(signal.SIGKILL)
            clients.server.start()
        with background(clients):  # the poison batches fail between B's inserts until quarantined
            time.sleep(10)
        poison = [view for view, events in clients.acknowledged.items() if events == 1000]
        for view in poison:
            del clients.acknowledged[view]  # A's, quarantined by design: counted apart
        load = "B as fast as answered, A a poison batch every 0.7 s; SIGKILL after 3 s, 3 times; then B for 10 s"
        return finish(clients, "kill-9-poisoned", load, f"A's poison: {len(poison)}×200")


def failing_segment() -> Outcome:
    """A segment left in the spool (as by a crash) with a batch the engine refuses (an unknown event type)
    between good batches of A and B: stored at the next start, but for that batch."""
    crafted: dict[str, int] = {}

    def leave_segment(data_dir: Path) -> None:
        (data_dir / "spool").mkdir(parents=True, exist_ok=True)
        segment = spool.SegmentFile(data_dir / "spool")
        runs = []
        for customer in (A, A, B, B):
            view_id = uuid7(now_ms())
            crafted[str(view_id)] = EVENTS
            runs.append([ViewEvents(customer, view_id.bytes, {}, heartbeats(now_ms()))])
        bad = [ViewEvents(A, uuid7(now_ms()).bytes, {}, [{"event": "nosuchevent", "ts": now_ms(), "seq": 0}])]
        segment.append([spool.encode(run) for run in [runs[0], runs[2], bad, runs[1], runs[3]]], 4 * EVENTS + 1)
        segment.close()

    with world(prepare=leave_segment) as clients:
        clients.acknowledged.update(crafted)
        with background(clients):
            time.sleep(15)
        return finish(clients, "failing-segment", "a left segment: A 2 views, A 1 bad batch, B 2 views; then B's load")


def poison_batch() -> Outcome:
    """The issue's batch from A, posted 5 times, reaching the writer (a window that takes any time)."""
    with world(env=WIDE_WINDOW) as clients:
        poison: Counter[int] = Counter()
        with background(clients):
            for _ in range(5):
                poison[clients.post_view(A, uuid7(now_ms()), months_apart())] += 1
                time.sleep(3)
            time.sleep(5)
        for view in [v for v in clients.acknowledged if clients.acknowledged[v] == 1000]:
            del clients.acknowledged[view]  # A's, quarantined by design: counted apart
        load = f"A: 5 batches of 1,000 events over 84 years; {B_LOAD}"
        return finish(clients, "poison-batch", load, f"A's poison: {dict(poison)}")


@contextmanager
def disk_full(path: Path) -> Iterator[None]:
    """The filesystem of `path` kept full while the body runs: a file takes every byte that frees up."""
    stop = threading.Event()

    def fill() -> None:
        with (path / "filler").open("wb", buffering=0) as file:  # unbuffered: closing it writes nothing
            while not stop.is_set():
                try:
                    file.write(b"\0" * (1 << 16))
                    file.flush()
                except OSError:
                    stop.wait(0.005)

    filler = threading.Thread(target=fill)
    filler.start()
    try:
        yield
    finally:
        stop.set()
        filler.join()
        (path / "filler").unlink()


def engine_disk_full() -> Outcome:
    """The engine's data on a 256 MiB tmpfs, filled for 10 s: every insert refused (NOT_ENOUGH_SPACE)."""
    with world(tmpfs=("clickhouse", 256)) as clients:
        with background(clients):
            time.sleep(3)
            with disk_full(clients.server.data_dir / "clickhouse"):
                time.sleep(10)
            time.sleep(10)
        return finish(clients, "engine-disk-full", f"{B_LOAD}, 23 s; the engine's disk full for 10 s of them")


def spool_disk_full() -> Outcome:
    """The spool on a 32 MiB tmpfs, filled for 5 s: nothing can be made durable, so nothing is acknowledged."""
    with world(tmpfs=("spool", 32)) as clients:
        with background(clients):
            time.sleep(3)
            with disk_full(clients.server.data_dir / "spool"):
                time.sleep(5)
            time.sleep(7)
        return finish(clients, "spool-disk-full", f"{B_LOAD}, 15 s; the spool's disk full for 5 s of them")


Bodies = list[tuple[bytes, dict[str, str]]]
"""Request bodies, each with its headers."""


def attack(port: int, key: str, bodies: Bodies, seconds: float, answers: multiprocessing.Queue[dict[int, int]]) -> None:
    """Post `bodies` again and again for `seconds` (in a process of its own: the load does not share B's GIL)."""
    counted: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for body, headers in bodies:
            try:
                counted[request(port, "POST", "/collect", body, {"X-Ingest-Key": key, **headers})[0]] += 1
            except (OSError, http.client.HTTPException):  # answered before the body was read, and closed
                counted[0] += 1
    answers.put(dict(counted))


def bad_requests(name: str, load: str, bodies: Bodies) -> Outcome:
    """A posts `bodies` for 10 s while B's load runs; A's answers counted apart."""
    with world() as clients:
        queue: multiprocessing.Queue[dict[int, int]] = multiprocessing.Queue()
        attacker = multiprocessing.Process(
            target=attack, args=(clients.server.port, clients.keys[A], bodies, 10.0, queue)
        )
        with background(clients):
            time.sleep(2)
            attacker.start()
            bad = queue.get(timeout=120)
            attacker.join()
            time.sleep(2)
            rss = clients.server.peak_rss_mib()
        return finish(clients, name, load, f"A's: {dict(sorted(bad.items()))}; server peak RSS {rss:,.0f} MiB")


def oversized() -> Outcome:
    view = str(uuid7(now_ms()))
    bodies: Bodies = [
        (b" " * (2 * 1024 * 1024), {}),
        (json.dumps({"view_id": view, "events": heartbeats(now_ms(), 1001)}).encode(), {}),
        (
            json.dumps(
                {"view_id": view, "dimensions": {"assetname": "x" * 513}, "events": heartbeats(now_ms(), 1)}
            ).encode(),
            {},
        ),
    ]
    return bad_requests("oversized", f"A: 2 MiB body, 1,001 events, a 513-character title, for 10 s; {B_LOAD}", bodies)


def compressed_bomb() -> Outcome:
    zeros = b"\0" * (1 << 20)
    gzipped = gzip.compress(zeros * 512, compresslevel=9)  # 512 MiB of zeros in about half a MiB
    deflater = zlib.compressobj(9)
    deflated = b"".join(deflater.compress(zeros) for _ in range(512)) + deflater.flush()
    bodies = [(gzipped, {"Content-Encoding": "gzip"}), (deflated, {"Content-Encoding": "deflate"})]
    load = f"A: gzip and deflate of 512 MiB of zeros ({len(gzipped) // 1024} KiB each), for 10 s; {B_LOAD}"
    return bad_requests("compressed-bomb", load, bodies)


def malformed() -> Outcome:
    view = str(uuid7(now_ms()))
    bodies: Bodies = [(body, {}) for body in [
        b"{not json", os.urandom(2000), b"[" * 100_000 + b"]" * 100_000, b'{"view_id": "nope", "events": []}',
        json.dumps({"view_id": view, "events": [{"event": "heartbeat", "ts": "soon", "seq": "x"}]}).encode(),
        json.dumps({"view_id": view, "dimensions": [1, 2], "events": heartbeats(now_ms(), 1)}).encode(),
        b'{"view_id": "' + view.encode() + b'", "events": [{"event": "heartbeat", "ts": NaN}]}',
    ]]  # fmt: skip
    return bad_requests("malformed", f"A: 7 kinds of malformed body, for 10 s; {B_LOAD}", bodies)


def out_of_range() -> Outcome:
    late = now_ms() - 9 * 86_400_000
    bodies: Bodies = [(json.dumps(body).encode(), {}) for body in [
        {"view_id": str(uuid7(now_ms())), "events": months_apart()},
        {"view_id": str(uuid7(4_102_444_000_000)), "events": heartbeats(now_ms(), 3)},
        {"view_id": str(uuid7(late)), "events": heartbeats(late, 3)},
        {"view_id": str(uuid7(now_ms())), "events": [{"event": "heartbeat", "ts": str(now_ms()), "seq": 0}]},
    ]]  # fmt: skip
    return bad_requests("out-of-range", "A: 84 years of times, a view of 2099, a view 9 days old, ts as a string, "
                        f"for 10 s (the default window); {B_LOAD}", bodies)  # fmt: skip


SCENARIOS: dict[str, Callable[[], Outcome]] = {
    "no-fault": no_fault,
    "kill-9": kill_9,
    "kill-9-poisoned": kill_9_poisoned,
    "failing-segment": failing_segment,
    "poison-batch": poison_batch,
    "engine-disk-full": engine_disk_full,
    "spool-disk-full": spool_disk_full,
    "oversized": oversized,
    "compressed-bomb": compressed_bomb,
    "malformed": malformed,
    "out-of-range": out_of_range,
}


def table(outcomes: list[Outcome]) -> str:
    header = ("scenario (`python bench/reliability.py --only …`)", "load", "answers", "events acknowledged",
              "B's events acknowledged / s", "stored", "lost", "duplicated", "B's views found after (p50 / max)",
              "quarantined")  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for o in outcomes:
        cells = (f"`{o.scenario}`", o.load, o.answers, f"{o.acknowledged:,}", f"{o.b_rate:,.0f}", f"{o.stored:,}",
                 str(o.lost), str(o.duplicated), o.delay, o.quarantined)  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_table(body: str, load_before: float) -> None:
    """Replace the table between the markers of docs/reliability.md."""
    text = RELIABILITY_MD.read_text()
    start, end = "<!-- reliability:table -->", "<!-- /reliability:table -->"
    load = f"the machine's load average {load_before:.1f} before the run and {os.getloadavg()[0]:.1f} after"
    stamp = f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, revision {git_revision()}, on {machine()}; {load}."
    section = f"{start}\n{stamp}\n\n{body}\n{end}"
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    RELIABILITY_MD.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), help="run these scenarios (default: all)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    outcomes = []
    for name in args.only or list(SCENARIOS):
        try:
            outcome = SCENARIOS[name]()
        except subprocess.CalledProcessError as error:  # a mount without the privilege to mount
            outcome = Outcome(name, "not run", f"{' '.join(error.cmd[:3])} failed: needs root", 0, 0, 0, 0, 0, "-", "-")
        print(outcome, flush=True)
        outcomes.append(outcome)
    body = table(outcomes)
    print(body)
    if args.only is None:
        write_table(body, load_before)


if __name__ == "__main__":
    main()
