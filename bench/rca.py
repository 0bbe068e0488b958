"""Root-cause localisation quality: micro-F1 on the Squeeze B0 subset and on RobustSpot RS.

    .venv/bin/python bench/rca.py [DATA_DIR] [--only b0|rs] [--min-share F] [--no-reference] [--write]

DATA_DIR is the public benchmark data (default ../shared/benchmarks/alerts from the project root; README.md
and ANCHORS.md there; it is never copied into the repository). Every case is diagnosed by
`sightline.alerts.diagnose` with its default parameters, the same for both datasets:
- B0 (the 135 cases present: 15 of each of the 9 settings): additive leaves `real` against `predict` over
  the dimensions a, b, c, d (21,600 leaves; amounts, not counts of events); the direction is inferred.
- RS (135 cases): ratio leaves of the anomalous minute, stalling viewers `value` over viewers `cnt`, each
  leaf's expected rate pooled over the `--history` minutes before it (`baseline_rate`); those minutes, each
  against the rate of the others, are the reference windows the noise is learnt from; direction +1 (the
  cases are rises of the stall ratio).
Scoring as ANCHORS.md: a case's elements are exact-matched after sorting their attr=value pairs, TP/FP/FN
summed over cases, F1 = 2TP / (2TP + FP + FN) of the top-ranked set; exact-set accuracy@k: the true set is
among the first k candidate sets. `--write` runs the defaults and the ablations (min_share 0; RS noise
from the anomalous minute alone; each cause then `broadened`, the engine's last step, over the case's
leaves) and writes the results into docs/alerts.md (section "Root-cause localisation", between its bench
markers).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from benchlib import git_revision, machine
from sightline.alerts.diagnose import broadened, diagnose, leaves_noise
from sightline.alerts.diagnose_leaves import Leaves, Named, additive_leaves, baseline_rate, ratio_leaves
from sightline.alerts.diagnosis import REFUTED

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "alerts"
ALERTS_MD = ROOT / "docs" / "alerts.md"
B0_CASES_PER_SETTING = 15
MIN_SHARE = 0.02
"""diagnose's default, restated so that the ablation can name what it changes."""
ANCHOR_ROWS = (
    "| B0, RiskLoc (ANCHORS.md) | 135 | 0.953 | 0.984 / 0.925 | 0.971 / 0.954 / 0.935 | |",
    "| B0, Squeeze (ANCHORS.md) | 135 | 0.941 | 0.957 / 0.925 | 0.943 / 0.960 / 0.920 | |",
    "| RS, RobustSpot's own output (ANCHORS.md) | 135 | 0.684 | | | 0.674 / 0.874 / 0.978 |",
    "| RS, RobustSpot re-implemented in riskloc, k=3 (ANCHORS.md) | 135 | 0.413 | 0.272 / 0.853 | | |",
    "| RS, RiskLoc (ANCHORS.md) | 135 | 0.025 | | | |",
)
"""The numbers ANCHORS.md measured for the same cases, shown beside ours."""

Element = str
"""A combination as the benchmarks write it: attr=value pairs sorted and joined by '&'."""


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    group: str
    leaves: Leaves
    truth: frozenset[Element]
    direction: int | None
    reference: tuple[Leaves, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    ranked: tuple[frozenset[Element], ...]
    seconds: float


def element(pairs: list[tuple[str, str]]) -> Element:
    return "&".join(sorted(f"{name}={value}" for name, value in pairs))


def label(value: object) -> str:
    """A value as text, integers without a decimal part (RS files write 500 and 500.0 alike)."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def b0_cases(data: Path) -> Iterator[Case]:
    dims = ["a", "b", "c", "d"]
    for setting in sorted((data / "squeeze_B0").glob("B_cuboid_layer_*")):
        info = pd.read_csv(setting / "injection_info.csv").head(B0_CASES_PER_SETTING)
        for timestamp, cause_set in zip(info["timestamp"], info["set"], strict=True):
            frame = pd.read_csv(setting / f"{timestamp}.csv.xz")
            columns = [frame[d].to_numpy() for d in dims]
            leaves = additive_leaves(dims, columns, frame["real"], frame["predict"], counts=False)
            truth = frozenset(
                element([(pair.split("=")[0], pair.split("=")[1]) for pair in part.split("&")])
                for part in str(cause_set).split(";")
            )
            yield Case(f"{setting.name}/{timestamp}", setting.name.removeprefix("B_cuboid_"), leaves, truth, None)


def rs_anomalies(data: Path) -> list[tuple[str, int, list[dict[str, object]]]]:
    """(case, anomalous minute, causes) from anomaly.yaml, read as the simple list it is."""
    text = (data / "robustspot_RS" / "anomaly.yaml").read_text(encoding="utf-8")
    found = []
    for block in text.split("- data: ")[1:]:
        name = block.splitlines()[0].strip()
        minute = re.search(r"timestamp:\s*(\d+)", block)
        cause = re.search(r"cause:\s*(.+)", block)
        if minute is None or cause is None:
            raise ValueError(f"anomaly.yaml: case {name!r} lacks a timestamp or a cause")
        causes = ast.literal_eval(cause.group(1).strip())
        found.append((name, int(minute.group(1)), causes if isinstance(causes, list) else [causes]))
    return found


def rs_cases(data: Path, history: int, reference: bool) -> Iterator[Case]:
    for name, minute, causes in rs_anomalies(data):
        frame = pd.read_csv(data / "robustspot_RS" / "cases" / f"{name}.csv.gz")
        dims = [c for c in frame.columns if c not in ("min", "value", "cnt")]
        for d in dims:
            frame[d] = frame[d].map(label)
        now = frame[frame["min"] == minute].groupby(dims, as_index=False)[["value", "cnt"]].sum()
        keys = pd.MultiIndex.from_frame(now[dims])
        past = frame[(frame["min"] < minute) & (frame["min"] >= minute - 60 * history)]
        minutes = [
            rows.groupby(dims)[["value", "cnt"]].sum().reindex(keys, fill_value=0) for _, rows in past.groupby("min")
        ]
        past_numerator = np.array([m["value"].to_numpy() for m in minutes]).reshape(-1, len(now))
        past_denominator = np.array([m["cnt"].to_numpy() for m in minutes]).reshape(-1, len(now))
        columns = [now[d].to_numpy() for d in dims]
        rate = baseline_rate(past_numerator, past_denominator)
        leaves = ratio_leaves(dims, columns, now["value"], now["cnt"], rate)
        windows = []
        for k in range(len(minutes) if reference else 0):
            others = [o for o in range(len(minutes)) if o != k]
            others_rate = baseline_rate(past_numerator[others], past_denominator[others])
            windows.append(ratio_leaves(dims, columns, past_numerator[k], past_denominator[k], others_rate))
        truth = frozenset(element([(k, label(v)) for k, v in cause.items()]) for cause in causes)
        yield Case(name, f"{len(dims)} dimensions", leaves, truth, 1, tuple(windows))


def run(cases: Iterator[Case], min_share: float, broaden: bool = False) -> list[Outcome]:
    """Each case diagnosed; with `broaden`, each cause of each set then `broadened` as the engine does (over the
    same leaves, at the engine's bound `REFUTED`)."""
    outcomes = []
    for case in cases:
        started = time.perf_counter()
        ranked = diagnose(case.leaves, direction=case.direction, reference=case.reference, min_share=min_share)
        seconds = time.perf_counter() - started
        noise = leaves_noise(case.leaves, case.reference) if broaden else None
        sets = tuple(frozenset(element(list(_named(c.conditions, case, noise))) for c in d.causes) for d in ranked)
        outcomes.append(Outcome(case, sets, seconds))
    return outcomes


def _named(conditions: Named, case: Case, noise: tuple[float, float] | None) -> Named:
    """`conditions` `broadened` over the case's leaves with their `noise`; as they are without it."""
    if noise is None:
        return conditions
    leaves = case.leaves
    return broadened(conditions, leaves.holding, leaves.observed, leaves.expected, noise, REFUTED)


def scores(outcomes: list[Outcome]) -> tuple[float, float, float]:
    """Micro F1, precision and recall of the top-ranked sets."""
    tp = fp = fn = 0
    for o in outcomes:
        top = o.ranked[0] if o.ranked else frozenset()
        tp += len(top & o.case.truth)
        fp += len(top - o.case.truth)
        fn += len(o.case.truth - top)
    return 2 * tp / (2 * tp + fp + fn), tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0


def accuracy_at(outcomes: list[Outcome], k: int) -> float:
    return sum(o.case.truth in o.ranked[:k] for o in outcomes) / len(outcomes)


def runtime(outcomes: list[Outcome]) -> str:
    ms = sorted(1000 * o.seconds for o in outcomes)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms"


def by_layer(outcomes: list[Outcome]) -> str:
    """Micro-F1 of the B0 settings of each cuboid layer (45 cases each), as ANCHORS.md reports them."""
    if not all(o.case.group.startswith("layer_") for o in outcomes):
        return ""
    layers = (scores([o for o in outcomes if o.case.group.startswith(f"layer_{n}_")])[0] for n in (1, 2, 3))
    return " / ".join(f"{f1:.3f}" for f1 in layers)


def row(title: str, outcomes: list[Outcome]) -> str:
    f1, precision, recall = scores(outcomes)
    accuracy = " / ".join(f"{accuracy_at(outcomes, k):.3f}" for k in (1, 3, 5))
    cells = (
        title,
        str(len(outcomes)),
        f"**{f1:.3f}**",
        f"{precision:.3f} / {recall:.3f}",
        by_layer(outcomes),
        accuracy,
    )
    return "| " + " | ".join(cells) + " |"


def report(results: dict[str, list[Outcome]], ablations: dict[str, list[Outcome]]) -> str:
    lines = [
        "| run | cases | micro-F1 | precision / recall | F1 by cuboid layer 1 / 2 / 3 | exact-set acc. @1 / 3 / 5 |",
        "|---|---|---|---|---|---|",
        *(row(f"{title}, ours", outcomes) for title, outcomes in results.items()),
        *(line for line in ANCHOR_ROWS if line.split(",")[0].removeprefix("| ") in results),
        *(row(f"{title} (ablation)", outcomes) for title, outcomes in ablations.items()),
    ]
    if "B0" in results:
        lines += ["", "| B0 setting (15 cases each) | micro-F1 | precision / recall |", "|---|---|---|"]
        for group in sorted({o.case.group for o in results["B0"]}):
            f1, precision, recall = scores([o for o in results["B0"] if o.case.group == group])
            lines.append(f"| {group} | {f1:.3f} | {precision:.3f} / {recall:.3f} |")
    lines.append("")
    lines += [f"- {title}: time per case, diagnose alone: {runtime(outcomes)}" for title, outcomes in results.items()]
    return "\n".join(lines)


def scale() -> str:
    """Time one diagnosis of synthetic ratio leaves at the sizes of a product rollup (seeded; the leaves'
    construction from label columns is timed apart)."""
    lines = []
    for leaves_wanted, cardinalities in ((50_000, (2, 6, 8, 10, 6, 30, 20)), (100_000, (2, 6, 8, 10, 6, 30, 20, 50))):
        rng = np.random.default_rng(0)
        codes = np.column_stack([rng.zipf(1.5, size=3 * leaves_wanted) % c for c in cardinalities])
        codes = np.unique(codes, axis=0)[:leaves_wanted]
        columns = [np.char.add(f"v{j}_", codes[:, j].astype(str)) for j in range(len(cardinalities))]
        views = rng.gamma(0.5, 200.0, size=codes.shape[0]) + 1.0
        rate = np.full(codes.shape[0], 0.02)
        failures = rng.poisson((rate + np.where((codes[:, 0] == 0) & (codes[:, 3] == 1), 0.03, 0.0)) * views)
        dims = [f"d{j}" for j in range(len(cardinalities))]
        started = time.perf_counter()
        leaves = ratio_leaves(dims, columns, failures, views, rate)
        built = time.perf_counter()
        (found, *_) = diagnose(leaves, direction=1)
        done = time.perf_counter()
        lines.append(
            f"- {codes.shape[0]:,} leaves × {len(dims)} dimensions (synthetic, one cause `d0 ∧ d3`, found: "
            f"{' ∧ '.join(f'{d}={v}' for d, v in found.causes[0].conditions)}): diagnose {done - built:.2f} s, "
            f"building the leaves from label columns {built - started:.2f} s"
        )
    return "\n".join(lines)


def write(command: str, body: str, load: str) -> None:
    """Replace the bench block of docs/alerts.md's "Root-cause localisation" section with `body`."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- bench:rca -->\n- command: `{command}`\n- machine: {machine()}\n"
        f"- run: {stamp}, revision {git_revision()}; load average (1 min) {load}\n\n{body.strip()}\n"
        "<!-- /bench:rca -->"
    )
    text = ALERTS_MD.read_text() if ALERTS_MD.exists() else "# AI alerts\n\n## Root-cause localisation\n"
    pattern = re.compile(r"<!-- bench:rca -->.*?<!-- /bench:rca -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    ALERTS_MD.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", choices=("b0", "rs"))
    parser.add_argument("--history", type=int, default=10, help="RS: minutes before the anomaly for its baseline")
    parser.add_argument("--min-share", type=float, default=MIN_SHARE)
    parser.add_argument("--no-reference", action="store_true", help="RS: learn the noise from the minute itself")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--write", action="store_true", help="run the ablations too and write docs/alerts.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results: dict[str, list[Outcome]] = {}
    ablations: dict[str, list[Outcome]] = {}
    if args.only in (None, "b0"):
        results["B0"] = run(b0_cases(args.data), args.min_share)
        if args.write:
            ablations["B0, min_share 0"] = run(b0_cases(args.data), 0.0)
            ablations["B0, each cause broadened"] = run(b0_cases(args.data), args.min_share, broaden=True)
    if args.only in (None, "rs"):
        results["RS"] = run(rs_cases(args.data, args.history, not args.no_reference), args.min_share)
        if args.write:
            ablations["RS, min_share 0"] = run(rs_cases(args.data, args.history, True), 0.0)
            ablations["RS, noise from the minute itself"] = run(
                rs_cases(args.data, args.history, False), args.min_share
            )
            ablations["RS, each cause broadened"] = run(
                rs_cases(args.data, args.history, True), args.min_share, broaden=True
            )
    body = report(results, ablations) + ("\n" + scale() if args.write else "")
    print(body)
    if args.show_misses:
        for outcomes in results.values():
            for o in outcomes:
                if not o.ranked or o.ranked[0] != o.case.truth:
                    got = [sorted(s) for s in o.ranked[:3]]
                    print(f"miss {o.case.name}: truth {sorted(o.case.truth)}, got {got}")
    if args.write:
        load = f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
        write(" ".join(["python", "bench/rca.py", *sys.argv[1:]]), body, load)


if __name__ == "__main__":
    main()
