"""NAB v1.1: our streaming detector on all 58 series, scored by our scorer (bench/nab_scorer.py) in NAB's three
profiles, and the scorer checked against NAB's published numenta and ARTime scores.

    .venv/bin/python bench/nab.py [--data ../shared/benchmarks/alerts] [--no-docs]

Reads the corpus from `<data>/nab` (by default ../shared/benchmarks/alerts beside the project); writes the
section "Anomaly detection (NAB)" of docs/alerts.md unless `--no-docs`.
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from nab_scorer import PROFILES, Profile, Windows, normalised, score_series
from sightline.alerts.detect_stream import StreamParams, stream_scores

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the benchmark data directory")
    parser.add_argument("--no-docs", action="store_true", help="print the results only")
    arguments = parser.parse_args()
    nab = arguments.data / "nab"
    started = time.perf_counter()
    corpus = load_corpus(nab)
    reproduced = reproduce_published(nab, corpus)
    print(json.dumps(reproduced, indent=1), f"{time.perf_counter() - started:.1f} s")
    params = StreamParams()
    scores, seconds = run_detector(corpus, params)
    threshold = 1.0 - params.alpha
    halves = {"even": corpus[0::2], "odd": corpus[1::2], "all": corpus}
    ours = {
        half: {profile.name: score_corpus(series, scores, threshold, profile) for profile in PROFILES}
        for half, series in halves.items()
    }
    print(json.dumps(ours, indent=1), f"detector {seconds:.1f} s")


if __name__ == "__main__":
    main()
