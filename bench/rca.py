"""Root-cause localisation quality: micro-F1 on the Squeeze B0 subset and on RobustSpot RS.

    .venv/bin/python bench/rca.py [DATA_DIR] [--only b0|rs] [--write]

DATA_DIR is the public benchmark data (default ../shared/benchmarks/alerts from the project root; read
README.md and ANCHORS.md there; it is never copied into the repository). Every case is diagnosed by
`sightline.alerts.diagnose` with its default parameters, the same for both datasets:
- B0 (135 cases, 9 settings of 15): additive leaves (real, predict) over the dimensions a, b, c, d.
- RS (135 cases): ratio leaves of the anomalous minute (stalling viewers `value` over viewers `cnt`), the
  rate expected of each leaf from the `--history` minutes before it (`baseline_rate`).
Scoring as ANCHORS.md: a case's elements are exact-matched after sorting their attr=value pairs, TP/FP/FN
summed over cases, F1 = 2TP / (2TP + FP + FN) of the top-ranked set; exact-set accuracy@1/3/5 over the
ranked candidate sets. `--write` puts the tables into docs/alerts.md, section "Root-cause localisation".
"""

from __future__ import annotations

import argparse
import ast
import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sightline.alerts.diagnose import Diagnosis, diagnose
from sightline.alerts.diagnose_leaves import Leaves, additive_leaves, baseline_rate, ratio_leaves

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "alerts"
ALERTS_MD = ROOT / "docs" / "alerts.md"
B0_CASES_PER_SETTING = 15

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
    for setting in sorted((data / "squeeze_B0").glob("B_cuboid_layer_*")):
        info = pd.read_csv(setting / "injection_info.csv").head(B0_CASES_PER_SETTING)
        for row in info.itertuples():
            frame = pd.read_csv(setting / f"{row.timestamp}.csv.xz")
            dims = ["a", "b", "c", "d"]
            leaves = additive_leaves(
                dims,
                [frame[d].to_numpy() for d in dims],
                frame["real"].to_numpy(),
                frame["predict"].to_numpy(),
                counts=False,
            )
            truth = frozenset(element([tuple(p.split("=")) for p in e.split("&")]) for e in str(row.set).split(";"))  # type: ignore[misc]
            yield Case(f"{setting.name}/{row.timestamp}", setting.name.removeprefix("B_cuboid_"), leaves, truth, None)


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


def rs_cases(data: Path, history: int) -> Iterator[Case]:
    for name, minute, causes in rs_anomalies(data):
        frame = pd.read_csv(data / "robustspot_RS" / "cases" / f"{name}.csv.gz")
        dims = [c for c in frame.columns if c not in ("min", "value", "cnt")]
        for d in dims:
            frame[d] = frame[d].map(label)
        past = frame[(frame["min"] < minute) & (frame["min"] >= minute - 60 * history)]
        now = frame[frame["min"] == minute].groupby(dims, as_index=False)[["value", "cnt"]].sum()
        keys = pd.MultiIndex.from_frame(now[dims])
        past_numerator = np.zeros((history, len(now)))
        past_denominator = np.zeros((history, len(now)))
        for k, (_, rows) in enumerate(past.groupby("min")):
            sums = rows.groupby(dims)[["value", "cnt"]].sum().reindex(keys, fill_value=0)
            past_numerator[k] = sums["value"].to_numpy()
            past_denominator[k] = sums["cnt"].to_numpy()
        columns = [now[d].to_numpy() for d in dims]
        rate = baseline_rate(past_numerator, past_denominator)
        leaves = ratio_leaves(dims, columns, now["value"].to_numpy(), now["cnt"].to_numpy(), rate)
        reference = []
        seen = [k for k in range(history) if past_denominator[k].sum() > 0]
        for k in seen:
            others = [o for o in seen if o != k]
            others_rate = baseline_rate(past_numerator[others], past_denominator[others])
            reference.append(ratio_leaves(dims, columns, past_numerator[k], past_denominator[k], others_rate))
        truth = frozenset(element([(k, label(v)) for k, v in cause.items()]) for cause in causes)
        yield Case(name, f"{len(dims)} dimensions", leaves, truth, 1, tuple(reference))


def run(cases: Iterator[Case]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        started = time.perf_counter()
        ranked: tuple[Diagnosis, ...] = diagnose(case.leaves, direction=case.direction, reference=case.reference)
        seconds = time.perf_counter() - started
        sets = tuple(frozenset(element(list(c.conditions)) for c in d.causes) for d in ranked)
        outcomes.append(Outcome(case, sets, seconds))
    return outcomes


def counts(outcomes: list[Outcome]) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for o in outcomes:
        top = o.ranked[0] if o.ranked else frozenset()
        tp += len(top & o.case.truth)
        fp += len(top - o.case.truth)
        fn += len(o.case.truth - top)
    return tp, fp, fn


def scores(outcomes: list[Outcome]) -> tuple[float, float, float]:
    tp, fp, fn = counts(outcomes)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * tp / (2 * tp + fp + fn), precision, recall


def accuracy_at(outcomes: list[Outcome], k: int) -> float:
    return sum(o.case.truth in o.ranked[:k] for o in outcomes) / len(outcomes)


def runtime(outcomes: list[Outcome]) -> str:
    ms = sorted(1000 * o.seconds for o in outcomes)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms"


def summary(title: str, outcomes: list[Outcome]) -> str:
    f1, precision, recall = scores(outcomes)
    lines = [f"{title}: F1 {f1:.3f} (P {precision:.3f} / R {recall:.3f}), {len(outcomes)} cases; {runtime(outcomes)}"]
    groups = sorted({o.case.group for o in outcomes})
    for group in groups:
        mine = [o for o in outcomes if o.case.group == group]
        g_f1, g_p, g_r = scores(mine)
        lines.append(f"  {group}: F1 {g_f1:.3f} (P {g_p:.3f} / R {g_r:.3f}), {len(mine)} cases")
    lines.append("  exact-set accuracy @1/3/5: " + " / ".join(f"{accuracy_at(outcomes, k):.3f}" for k in (1, 3, 5)))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", choices=("b0", "rs"))
    parser.add_argument("--history", type=int, default=10, help="RS: minutes before the anomaly for its baseline")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    results: dict[str, list[Outcome]] = {}
    if args.only in (None, "b0"):
        results["B0"] = run(b0_cases(args.data))
    if args.only in (None, "rs"):
        results["RS"] = run(rs_cases(args.data, args.history))
    for title, outcomes in results.items():
        print(summary(title, outcomes))
        if args.show_misses:
            for o in outcomes:
                top = o.ranked[0] if o.ranked else frozenset()
                if top != o.case.truth:
                    print(f"    {o.case.name}: truth {sorted(o.case.truth)} got {[sorted(s) for s in o.ranked[:3]]}")


if __name__ == "__main__":
    main()
