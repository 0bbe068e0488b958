"""The demo's data directory handling and credentials file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sightline.demo import DEMO_CUSTOMERS, demo_customers, fresh_data_dir, provision, write_demo_json
from sightline.settings import Settings


def test_fresh_data_dir_refuses_a_directory_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="holds no earlier demo"):
        fresh_data_dir(tmp_path)
    assert (tmp_path / "precious.txt").exists()


def test_fresh_data_dir_replaces_an_earlier_demo(tmp_path: Path) -> None:
    (tmp_path / "demo.json").write_text("{}")
    (tmp_path / "old-data").mkdir()
    fresh_data_dir(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_demo_json_lists_provisioned_customers_highest_plan_first(tmp_path: Path) -> None:
    path = write_demo_json(tmp_path, provision(Settings(data_dir=tmp_path), demo_customers()))
    customers = json.loads(path.read_text())["customers"]
    assert [c["id"] for c in customers] == [c for c, _ in DEMO_CUSTOMERS]
    assert customers[0]["plan_level"] == max(c["plan_level"] for c in customers)
    assert len({c["plan_level"] for c in customers}) == len(customers)
    for customer in customers:
        assert {"id", "name", "plan_level", "username", "password", "api_key", "ingest_key"} <= customer.keys()
        assert len(customer["password"]) >= 12
    assert path.stat().st_mode & 0o077 == 0
