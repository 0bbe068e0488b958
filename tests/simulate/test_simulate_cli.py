"""`sightline simulate --incidents FILE|none --end ISO-TIME`: a reproducible period with the incidents of a
file, and one clear line for a bad option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sightline.cli import main
from sightline.simulate import read_ground_truth

END = "2024-05-06T21:00:00+00:00"
INCIDENT = {
    "name": "us-slow",
    "customer_id": 1,
    "start": "2024-05-06T20:00:00Z",
    "duration_s": 1800,
    "filters": {"country": "US"},
    "effects": [{"effect": "startup_time", "magnitude": 4}],
}


def _simulate(tmp_path: Path, name: str, incidents: str) -> Path:
    truth = tmp_path / name
    args = ["simulate", "--data-dir", str(tmp_path / f"{name}-data"), "--days", "0.125", "--end", END]
    main([*args, "--customers", "1", "--incidents", incidents, "--truth", str(truth)])
    return truth


def test_a_file_of_incidents_over_a_fixed_period_is_reproducible(tmp_path: Path) -> None:
    source = tmp_path / "incidents.json"
    source.write_text(json.dumps([INCIDENT]))
    first, second = _simulate(tmp_path, "a", str(source)), _simulate(tmp_path, "b", str(source))
    truth = read_ground_truth(first)
    assert truth.views.equals(read_ground_truth(second).views)
    assert [i.name for i in truth.incidents] == ["us-slow"]
    written = json.loads((first / "incidents.json").read_text())[0]
    touched = truth.views.column("incidents").to_pylist().count("us-slow")
    assert written["views"] == touched > 0
    assert written["effects"] == [{"effect": "startup_time", "magnitude": 4.0, "metric": "latency"}]
    starts = truth.views.column("view_start").to_pylist()
    assert min(starts).isoformat() >= "2024-05-06T18:00:00+00:00"
    assert max(starts).isoformat() < END


def test_an_incident_no_view_matches_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "incidents.json"
    source.write_text(json.dumps([INCIDENT, INCIDENT | {"name": "typo", "filters": {"country": "United States"}}]))
    _simulate(tmp_path, "typo", str(source))
    lines = {line.split(":")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "no view matched" not in lines["incident us-slow on customer 1"]
    assert lines["incident typo on customer 1"].endswith("; 0 views (no view matched: check the filter values)")


def test_none_is_clean_traffic(tmp_path: Path) -> None:
    truth = read_ground_truth(_simulate(tmp_path, "clean", "none"))
    assert truth.incidents == ()
    assert set(truth.views.column("incidents").to_pylist()) == {""}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--end", "2024-05-06T21:00"], "--end '2024-05-06T21:00': an ISO 8601 time with a time zone is required"),
        (["--end", "tomorrow"], "--end 'tomorrow': an ISO 8601 time"),
        (["--incidents", "missing.json"], "--incidents missing.json: No such file"),
        (["--incidents", "{bad}"], "not JSON"),
        (["--incidents", "{late}"], "incident 'us-slow': 2024-05-07T20:00:00+00:00 + 1800 s is not within"),
        (["--incidents", "{bad-effect}"], "unknown effect 'slow'"),
    ],
)
def test_a_bad_option_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "{bad}").write_text("[{")
    (tmp_path / "{late}").write_text(json.dumps([INCIDENT | {"start": "2024-05-07T20:00:00Z"}]))
    (tmp_path / "{bad-effect}").write_text(json.dumps([INCIDENT | {"effects": [{"effect": "slow", "magnitude": 1}]}]))
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--data-dir", str(tmp_path / "data"), "--customers", "1", "--end", END, *args])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("sightline: ")
    assert message in error
    assert error.count("\n") == 1
