"""Shared fixtures: a real embedded chDB store in a temporary directory; the count of store contract tests
passed on each backend at the end of a run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.settings import Settings
from sightline.store import Store, open_store

pytest_plugins = ("tests.auth.fixtures", "tests.clickhouse_http.fixtures")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(Settings(data_dir=tmp_path / "data"))
    yield opened
    opened.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test of the store contract suite is marked with its backend (tests/store/conftest.py)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "backend" in callspec.params:
            item.user_properties.append(("backend", callspec.params["backend"]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many store contract tests passed on each backend."""
    passed = Counter(
        value
        for report in terminalreporter.stats.get("passed", [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == "backend"
    )
    if passed:
        counts = ", ".join(f"{count} on {backend}" for backend, count in sorted(passed.items()))
        terminalreporter.write_line(f"store contract tests passed: {counts}")
