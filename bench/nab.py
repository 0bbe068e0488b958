"""NAB v1.1: our streaming detector on all 58 series, scored by our scorer (bench/nab_scorer.py) in NAB's three
profiles, and the scorer checked against NAB's published numenta and ARTime scores; the same detector on the
SDFVAE CDN KPIs (F1 at the same fixed threshold); the cost of one batch detection round.

    .venv/bin/python bench/nab.py [--data ../shared/benchmarks/alerts] [--no-docs]

Reads `<data>/nab` and `<data>/sdfvae_cdn` (by default ../shared/benchmarks/alerts beside the project); writes
the section "Anomaly detection (NAB)" of docs/alerts.md unless `--no-docs`. About 5 minutes here.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from benchlib import git_revision, machine
from nab_scorer import PROFILES, Profile, Windows, normalised, score_series
from sightline.alerts.detect import MetricKind, MetricSeries, detect
from sightline.alerts.detect_stream import StreamParams, stream_p_values, stream_scores

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "alerts"
PUBLISHED = {
    "numenta": {"standard": 70.10, "reward_low_FP_rate": 63.12, "reward_low_FN_rate": 74.32},
    "ARTime": {"standard": 74.85, "reward_low_FP_rate": 65.15, "reward_low_FN_rate": 80.36},
}


@dataclass(frozen=True)
class Series:
    """One NAB series: its name (`realTweets/Twitter_volume_AMZN.csv`), times, values and labelled windows."""

    name: str
    timestamps: npt.NDArray[np.datetime64]
    values: npt.NDArray[np.float64]
    windows: Windows


def window_rows(timestamps: npt.NDArray[np.datetime64], limits: list[list[str]]) -> Windows:
    """The labelled windows as inclusive row ranges: each limit is a timestamp of the series."""
    rows = []
    for start, end in limits:
        left = int(np.searchsorted(timestamps, np.datetime64(pd.Timestamp(start))))
        right = int(np.searchsorted(timestamps, np.datetime64(pd.Timestamp(end))))
        if timestamps[left] != np.datetime64(pd.Timestamp(start)) or timestamps[right] != np.datetime64(
            pd.Timestamp(end)
        ):
            raise ValueError(f"window {start} .. {end} is not on rows of the series")
        rows.append((left, right))
    return rows


def load_corpus(nab: Path) -> list[Series]:
    """The 58 series of the corpus with their windows, in name order."""
    labels = json.loads((nab / "labels" / "combined_windows.json").read_text())
    corpus = []
    for name in sorted(labels):
        frame = pd.read_csv(nab / "data" / name)
        timestamps = pd.to_datetime(frame["timestamp"]).to_numpy(dtype="datetime64[ns]")
        values = frame["value"].to_numpy(dtype=np.float64)
        corpus.append(Series(name, timestamps, values, window_rows(timestamps, labels[name])))
    return corpus


def score_corpus(
    corpus: list[Series], scores: dict[str, npt.NDArray[np.float64]], threshold: float, profile: Profile
) -> float:
    """The normalised score of per-row anomaly scores (by series name) flagged at `threshold`."""
    raw = sum(score_series(scores[series.name] >= threshold, series.windows, profile) for series in corpus)
    return normalised(raw, sum(len(series.windows) for series in corpus), profile)


def fixture_scores(nab: Path, detector: str) -> Iterator[tuple[str, npt.NDArray[np.float64]]]:
    """A published detector's per-row anomaly scores, by series name, from results_fixtures."""
    archive = nab / "results_fixtures" / f"{detector}_per_row_results.tar.gz"
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.endswith(".csv"):
                continue
            category, file_name = member.name.split("/")[-2:]
            extracted = tar.extractfile(member)
            assert extracted is not None
            frame = pd.read_csv(io.BytesIO(extracted.read()))
            yield f"{category}/{file_name.removeprefix(detector + '_')}", frame["anomaly_score"].to_numpy(np.float64)


def reproduce_published(nab: Path, corpus: list[Series]) -> dict[str, dict[str, float]]:
    """Our scorer's scores of numenta and ARTime from their fixtures at the thresholds NAB chose for them."""
    thresholds = json.loads((nab / "config" / "thresholds.json").read_text())
    reproduced = {}
    for detector in PUBLISHED:
        scores = dict(fixture_scores(nab, detector))
        reproduced[detector] = {
            profile.name: score_corpus(corpus, scores, thresholds[detector][profile.name]["threshold"], profile)
            for profile in PROFILES
        }
    return reproduced


def run_detector(corpus: list[Series], params: StreamParams) -> tuple[dict[str, npt.NDArray[np.float64]], float]:
    """Our streaming detector's scores of every series, and the seconds it took."""
    started = time.perf_counter()
    scores = {
        series.name: stream_scores(series.timestamps.astype("datetime64[s]").astype(np.int64), series.values, params)
        for series in corpus
    }
    return scores, time.perf_counter() - started


@dataclass(frozen=True)
class F1:
    precision: float
    recall: float
    f1: float


def f1_of(flagged: npt.NDArray[np.bool_], labels: npt.NDArray[np.bool_]) -> F1:
    true_positives = float((flagged & labels).sum())
    precision = true_positives / max(float(flagged.sum()), 1.0)
    recall = true_positives / max(float(labels.sum()), 1.0)
    return F1(precision, recall, 2 * precision * recall / max(precision + recall, 1e-12))


def point_adjusted(flagged: npt.NDArray[np.bool_], labels: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Every row of a labelled segment counts as flagged when one of its rows is (the usual point adjustment)."""
    adjusted = flagged.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], labels.astype(np.int8), [0]])))
    for start, end in zip(edges[0::2], edges[1::2], strict=True):
        if flagged[start:end].any():
            adjusted[start:end] = True
    return adjusted


def cdn_kpis(directory: Path) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.float64]], npt.NDArray[np.bool_]]:
    """One SDFVAE CDN data set: times (s), its KPIs and its point labels."""

    def row(name: str) -> npt.NDArray[np.float64]:
        values: npt.NDArray[np.float64] = pd.read_csv(directory / name, header=None).to_numpy(dtype=np.float64)[0]
        return values

    stamps = row("timestamp.csv.xz").astype(np.int64).astype(str)  # YYYYMMDDhhmmss, some written as floats
    times = pd.to_datetime(stamps, format="%Y%m%d%H%M%S").to_numpy(dtype="datetime64[s]").astype(np.int64)
    count = len(list(directory.glob("kpi*.csv.xz")))
    return times, [row(f"kpi{number}.csv.xz") for number in range(1, count + 1)], row("label.csv.xz") > 0


def run_cdn(directory: Path, params: StreamParams) -> dict[str, float]:
    """Our streaming detector on every KPI of one data set; a row is anomalous when its smallest p over the K
    KPIs, times K, is below alpha. F1 (plain and point-adjusted) over the rows after the first 15 %."""
    times, kpis, labels = cdn_kpis(directory)
    p_values = np.min([stream_p_values(times, kpi, params) for kpi in kpis], axis=0)
    flagged = np.minimum(1.0, len(kpis) * p_values) < params.alpha
    scored = slice(int(0.15 * len(times)), None)
    plain = f1_of(flagged[scored], labels[scored])
    adjusted = f1_of(point_adjusted(flagged, labels)[scored], labels[scored])
    return {
        "kpis": len(kpis),
        "rows": len(times),
        "anomalous_rows": int(labels[scored].sum()),
        "f1": plain.f1,
        "precision": plain.precision,
        "recall": plain.recall,
        "f1_point_adjusted": adjusted.f1,
        "precision_point_adjusted": adjusted.precision,
        "recall_point_adjusted": adjusted.recall,
    }


def measure_batch(cohorts: int, weeks: int) -> float:
    """Seconds of one `detect` round over `cohorts` cohorts of a ratio metric with `weeks` weeks of 5-minute
    history (the median of 3)."""
    rng = np.random.default_rng(0)
    intervals = weeks * 7 * 288 + 1
    attempts = rng.poisson(50.0, size=(cohorts, intervals)).astype(np.float64)
    series = MetricSeries(MetricKind.RATIO, rng.binomial(attempts.astype(np.int64), 0.02).astype(np.float64), attempts)
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        detect(series)
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)[1]


def clean_false_alarms(cohorts: int, days: int) -> dict[str, int]:
    """Anomalies found by `detect` (default rule, UP) on clean synthetic 5-minute traffic: each cohort's attempts
    Poisson around its own mean (5 to 500), failures binomial at its own rate, either fixed (1 %) or wandering
    from interval to interval (uniform 1 to 3 %: overdispersed), judged over the last `days` days."""
    rng = np.random.default_rng(1)
    intervals = (21 + days) * 288
    attempts = rng.poisson(rng.uniform(5.0, 500.0, size=(cohorts, 1)), size=(cohorts, intervals)).astype(np.float64)
    rates = {
        "binomial 1 %": np.full((cohorts, intervals), 0.01),
        "overdispersed 1-3 %": rng.uniform(0.01, 0.03, size=(cohorts, intervals)),
    }
    found = {"cohort-intervals judged": cohorts * days * 288}
    for name, rate in rates.items():
        failures = rng.binomial(attempts.astype(np.int64), rate).astype(np.float64)
        detection = detect(MetricSeries(MetricKind.RATIO, failures, attempts), evaluate=days * 288)
        found[name] = int(detection.anomalous.sum())
    return found


def _row(name: str, scores: dict[str, float]) -> str:
    return f"| {name} | " + " | ".join(f"{scores[profile.name]:.2f}" for profile in PROFILES) + " |"


def report(
    reproduced: dict[str, dict[str, float]],
    ours: dict[str, dict[str, float]],
    seconds: float,
    rows: int,
    cdn: dict[str, dict[str, float]],
    batch: dict[int, float],
    clean: dict[str, int],
    params: StreamParams,
) -> str:
    """The section "Anomaly detection (NAB)" of docs/alerts.md."""
    lines = [
        "## Anomaly detection (NAB)",
        "",
        f"Written by `{' '.join(['.venv/bin/python', 'bench/nab.py', *sys.argv[1:]])}` (the data is read from "
        f"../shared/benchmarks/alerts by default), on {machine()}, revision {git_revision()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "The streaming form of the detector (`sightline.alerts.detect_stream`) runs on each of NAB v1.1's 58 series "
        "point by point, seeing only the past, and is scored by our scorer (`bench/nab_scorer.py`) with NAB's rules "
        "in its three profiles. **One threshold, fixed in advance**: the detector's tail probability "
        f"alpha = {params.alpha:g}, so the NAB threshold is 1 − alpha = {1 - params.alpha:g} (the detector gives "
        "1 − p to the row that opens an episode and 0 to every other row, so any threshold in (0, 1 − alpha] "
        "gives the same score). It was not optimised per profile.",
        "",
        "| detector | standard | reward_low_FP_rate | reward_low_FN_rate |",
        "|---|---|---|---|",
        _row("ARTime (published; the goal)", PUBLISHED["ARTime"]),
        _row("numenta HTM (published; the floor)", PUBLISHED["numenta"]),
        _row("**Sightline, all 58 series**", ours["all"]),
        _row("Sightline, the 29 even-numbered series (design set)", ours["even"]),
        _row("Sightline, the 29 odd-numbered series (held out)", ours["odd"]),
        "",
        f"**The floor is not met**: {ours['all']['standard']:.2f} against numenta's 70.10 (standard). The "
        f"detector took {seconds:.1f} s for the {rows:,} rows ({1e6 * seconds / rows:.0f} µs a row, one core of a "
        "shared machine).",
        "",
        "How the design was chosen, honestly: the series are numbered in name order, and every design decision was "
        "taken looking at the scores of the even-numbered half only; the odd half was scored for three candidate "
        "designs only, never examined series by series (standard: with a volatility surprise at alpha 3e-3, 53.4; "
        "daily seasonal surprise only, 55.4; daily and weekly, the design above). Tried on the even half: a "
        "Gaussian z-score (negative scores: heavy tails), the "
        "peaks-over-threshold tail (exponential and generalised Pareto), tail windows of 500, 1000, 2000 and all "
        "rows, tail quantiles 0.95, 0.98 and 0.99, episode lengths of 20, 50, 100 and 200 rows, escalations within "
        "an episode, leaving episode rows out of the tail fit (much worse: a lasting change never ends), surprises "
        "normalised by a local or seasonal spread, in log space, a volatility surprise (dropped: 46 of its 49 "
        "openings on the even half were false positives), seasonal shifts, and alpha in {1e-4, 1e-3, 3e-3, 1e-2}. "
        "The weekly seasonal surprise raised the even half from 56.9 to 62.1 but the held-out half not at all "
        "(55.4 → 54.9): kept because it is the product's own seasonal expectation, not because of the held-out "
        "score.",
        "",
        "The scorer is checked against NAB's published scoreboard: from "
        "`nab/results_fixtures/{numenta,ARTime}_per_row_results.tar.gz` at the thresholds of "
        "`nab/config/thresholds.json` it gives (tests/alerts/test_detect_nab_scorer.py asserts the 2 decimals; "
        "it reads ../shared/benchmarks/alerts, and skips saying so when that directory is absent):",
        "",
        "| fixture | standard | reward_low_FP_rate | reward_low_FN_rate |",
        "|---|---|---|---|",
        *(
            _row(f"{detector} (ours / published {published[PROFILES[0].name]:.2f})", reproduced[detector])
            for detector, published in PUBLISHED.items()
        ),
        "",
        "### SDFVAE CDN KPIs",
        "",
        "The same streaming detector on every KPI of `sdfvae_cdn/{live,vod1}` (5-minute KPIs of a video CDN, point "
        "labels); a row is anomalous when its smallest p over the K KPIs, times K, is below the same alpha. "
        "Scored on the rows after the first 15 %; the point-adjusted F1 counts a whole labelled segment as found "
        "when one of its rows is flagged. SDFVAE's own numbers are best-F1 over all thresholds, not comparable "
        "with a fixed threshold.",
        "",
        "| data set | KPIs × rows | anomalous rows scored | F1 (P / R) | point-adjusted F1 (P / R) |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {int(result['kpis'])} × {int(result['rows']):,} | {int(result['anomalous_rows'])} | "
            f"{result['f1']:.3f} ({result['precision']:.3f} / {result['recall']:.3f}) | "
            f"{result['f1_point_adjusted']:.3f} ({result['precision_point_adjusted']:.3f} / "
            f"{result['recall_point_adjusted']:.3f}) |"
            for name, result in cdn.items()
        ),
        "",
        "### The cost of a detection round",
        "",
        "`sightline.alerts.detect` judges every cohort at once (arrays cohorts × intervals): one round of a ratio "
        "metric with 3 weeks of 5-minute history (6,049 intervals a cohort) and the default rule took "
        + ", ".join(f"{seconds_:.2f} s for {cohorts:,} cohorts" for cohorts, seconds_ in batch.items())
        + " (the median of 3); the cost grows with cohorts × (fit_intervals + evaluate) × lags.",
        "",
        f"False alarms on clean synthetic traffic at the default sensitivity (alpha = 1e-5), among "
        f"{clean['cohort-intervals judged']:,} cohort-intervals (1,000 cohorts of 5 to 500 attempts an interval, "
        f"one day judged; {clean['cohort-intervals judged'] * 1e-5:.1f} expected at alpha): "
        + ", ".join(
            f"{found} with {name} failures" for name, found in clean.items() if name != "cohort-intervals judged"
        )
        + " (`clean_false_alarms` in bench/nab.py).",
    ]
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace (or add) the section "## Anomaly detection (NAB)" of docs/alerts.md, up to the next "## "."""
    path = ROOT / "docs" / "alerts.md"
    text = path.read_text() if path.exists() else "# AI alerts\n"
    pattern = re.compile(r"^## Anomaly detection \(NAB\)\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    path.write_text(text.rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the benchmark data directory")
    parser.add_argument("--no-docs", action="store_true", help="print the results only")
    arguments = parser.parse_args()
    nab = arguments.data / "nab"
    corpus = load_corpus(nab)
    reproduced = reproduce_published(nab, corpus)
    print("scorer on the published fixtures:", json.dumps(reproduced))
    params = StreamParams()
    scores, seconds = run_detector(corpus, params)
    threshold = 1.0 - params.alpha
    halves = {"even": corpus[0::2], "odd": corpus[1::2], "all": corpus}
    ours = {
        half: {profile.name: score_corpus(series, scores, threshold, profile) for profile in PROFILES}
        for half, series in halves.items()
    }
    print("ours:", json.dumps(ours), f"detector {seconds:.1f} s")
    cdn = {name: run_cdn(arguments.data / "sdfvae_cdn" / name, params) for name in ("live", "vod1")}
    print("sdfvae_cdn:", json.dumps(cdn))
    batch = {cohorts: measure_batch(cohorts, weeks=3) for cohorts in (1_000, 5_000)}
    print("batch round:", json.dumps(batch))
    clean = clean_false_alarms(1_000, days=1)
    print("clean false alarms:", json.dumps(clean))
    if not arguments.no_docs:
        rows = sum(len(series.values) for series in corpus)
        write_section(report(reproduced, ours, seconds, rows, cdn, batch, clean, params))


if __name__ == "__main__":
    main()
