"""The service over a ClickHouse server store (the HTTP test harness, tests/clickhouse_http): it is ready, and
the beacons it collects are answered by the query API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from tests.api.test_collect import START_MS, batch, view_events

CUSTOMER = 1001
PERIOD = f"start={START_MS // 1000 - 3600},end={START_MS // 1000 + 3600}"


def test_collected_beacons_are_answered_by_the_query_api(tmp_path: Path, server_url: str) -> None:
    app = create_app(Settings(data_dir=tmp_path, store_url=server_url, argon2_time_cost=1, argon2_memory_kib=1024))
    app.state.auth.accounts.add_customer(CUSTOMER, "Alpha", 6831)
    ingest = app.state.auth.accounts.create_key(KeyKind.INGEST, CUSTOMER)[1]
    api = app.state.auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
    with TestClient(app) as client:
        assert client.get("/readyz").json() == {"status": "ready"}
        for view in range(3):
            posted = client.post("/collect", json=batch(view, view_events(view)), headers={"X-Ingest-Key": ingest})
            assert posted.json()["accepted"] == 4
        services(client.app).writer.flush()
        answer = client.get(
            f"/mm-apis/metricquery/{CUSTOMER}",
            params={"metrics": "viewercount,playdur", "period": PERIOD},
            headers={"X-API-Key": api},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["response"][0]["viewercount"] == 3
