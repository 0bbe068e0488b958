"""The portal's test world: two days of simulated traffic (and the weeks before, at a lower rate, as the demo
seeds them) for two customers of different plan levels, served by `sightline serve`, with users and keys, and
the alerts of the Enterprise customer's injected player incident (its rounds replayed as `sightline alerts run`
replays them); and what the tests read off the portal's pages.

Access tokens live 30 s here, so the portal refreshes them (20 s after each grant) many times during the tests.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from playwright.sync_api import Page
from sqlalchemy.orm import sessionmaker

from sightline.alerts.rules import RuleInput
from sightline.alerts.scheduler import replay_customers
from sightline.alerts.store import RuleStore
from sightline.auth.clock import utc_now
from sightline.auth.kinds import KeyKind, Role
from sightline.auth.service import open_auth
from sightline.demo import history
from sightline.settings import Settings
from sightline.simulate.incidents import Incident, to_ms
from sightline.simulate.live import split_due
from sightline.simulate.traffic import SimulationConfig, simulate
from sightline.store import open_store
from tests.browser.harness import run_app

ENTERPRISE, PROFESSIONAL = (1001, 6831), (1002, 6830)
ACCESS_TOKEN_TTL_S = 30
PORTAL = Path(__file__).resolve().parents[2] / "portal"
AXE = PORTAL / "node_modules" / "axe-core" / "axe.min.js"
BUNDLE = PORTAL.parent / "src" / "sightline" / "portal" / "static" / "index.html"


def bundle_is_current() -> bool:
    """Whether the built portal (`make portal`) is newer than every source it is built from."""
    if not BUNDLE.exists():
        return False
    sources = [*PORTAL.joinpath("src").rglob("*"), PORTAL / "build.mjs"]
    return all(source.stat().st_mtime <= BUNDLE.stat().st_mtime for source in sources if source.is_file())


@dataclass(frozen=True)
class Login:
    username: str
    password: str


@dataclass(frozen=True)
class PortalWorld:
    base_url: str
    admin: Login
    """An admin of the Enterprise customer alone."""
    both: Login
    """A viewer of both customers (the customer switcher)."""
    api_keys: dict[int, str]

    def get(self, url: str) -> Any:
        """GET `url` (a path and query the portal sent) with an API key of the customer it names: the same
        request, another credential."""
        customer = int(re.search(r"/mm-apis/[A-Za-z]+/(\d+)", url).group(1))  # type: ignore[union-attr]
        request = urllib.request.Request(self.base_url + url, headers={"X-API-Key": self.api_keys[customer]})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{url} answered {error.code}: {error.read()[:300]!r}") from None

    def status(self, path: str, token: str) -> int:
        """The status of GET `path` with `token` as a Bearer token."""
        request = urllib.request.Request(self.base_url + path, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code


def seed(data_dir: Path, config: SimulationConfig) -> None:
    """`config`'s traffic after its history, up to its end, into a new store at `data_dir`."""
    store = open_store(Settings(data_dir=data_dir))
    try:
        end_ms, pending = to_ms(config.end), list[pa.Table]()
        for chunk in itertools.chain(simulate(history(config)), simulate(config)):
            pending.append(split_due(chunk.events, end_ms)[0])
            if sum(t.num_rows for t in pending) >= 200_000:
                store.insert_events(pa.concat_tables(pending))
                pending.clear()
        if pending:
            store.insert_events(pa.concat_tables(pending))
    finally:
        store.close()


PLAYER_RULE = RuleInput(
    name="Start failures by player version",
    metric="vsf",
    scope="selected",
    dimensions=["playerversion"],
    pairs=False,
    window=3600,
    minattempts=5,
    sensitivity=1.0,
)
"""At the world's volume (about 100 views an hour) the player version's cohort holds a few attempts in the default
rules' 15 minutes: this rule judges an hour, at the highest sensitivity."""


def player_incident(config: SimulationConfig) -> Incident:
    """The Enterprise customer's injected incident: ExoPlayer 1.3.1 fails to start."""
    return next(i for i in config.incidents if i.customer_id == ENTERPRISE[0] and "playerversion" in i.filters)


def replay_alerts(settings: Settings, config: SimulationConfig) -> None:
    """The Enterprise customer's alert rounds (its default rules and `PLAYER_RULE`) over its player incident."""
    auth = open_auth(settings)
    try:
        RuleStore(sessionmaker(auth.engine, expire_on_commit=False), utc_now).add(ENTERPRISE[0], PLAYER_RULE)
    finally:
        auth.close()
    incident = player_incident(config)
    start, end = incident.start - timedelta(minutes=20), incident.start + timedelta(minutes=150)
    store = open_store(settings)
    try:
        replay_customers(settings, store, [ENTERPRISE[0]], int(start.timestamp()), int(end.timestamp()))
    finally:
        store.close()


INCIDENTS_END = time(16, 25)
"""The world's incidents are planned as for traffic ending at the last 16:25 UTC (the player incident: 14:00 to 16:30
of the day before it), whatever the hour the tests run; its traffic ends now. Planned for traffic ending now, where
the incidents and the alert rounds around them fell relative to the data's start and to now depended on that hour,
and the player alert's diagnosis and points did with it (no cause from 14:30, no anomalous point after 17:00)."""


def planned_incidents(days: float, **options: Any) -> tuple[Incident, ...]:
    """The incidents of the `days` before the last `INCIDENTS_END` (UTC)."""
    now = datetime.now(UTC)
    end = datetime.combine(now.date(), INCIDENTS_END, UTC)
    return SimulationConfig.last_days(days, end=end if end <= now else end - timedelta(days=1), **options).incidents


@contextlib.contextmanager
def portal_world(data_dir: Path) -> Iterator[PortalWorld]:
    options: dict[str, Any] = {"customer_ids": (ENTERPRISE[0], PROFESSIONAL[0]), "scale": 0.15, "seed": 16}
    config = replace(SimulationConfig.last_days(3, **options), given_incidents=planned_incidents(3, **options))
    seed(data_dir, config)
    auth = open_auth(Settings(data_dir=data_dir))
    try:
        accounts = auth.accounts
        keys = {}
        for customer, plan in (ENTERPRISE, PROFESSIONAL):
            accounts.add_customer(customer, f"Portal {plan}", plan)
            keys[customer] = accounts.create_key(KeyKind.API, customer)[1]
        admin, both = Login("ann-admin", "portal-password-1"), Login("bob-viewer", "portal-password-2")
        accounts.add_user(admin.username, admin.password, [ENTERPRISE[0]], Role.ADMIN)
        accounts.add_user(both.username, both.password, [ENTERPRISE[0], PROFESSIONAL[0]], Role.VIEWER)
    finally:
        auth.close()
    replay_alerts(Settings(data_dir=data_dir), config)
    settings = {"SIGHTLINE_ACCESS_TOKEN_TTL_S": str(ACCESS_TOKEN_TTL_S)}
    with run_app(data_dir, settings=settings) as app:
        yield PortalWorld(app.base_url, admin, both, keys)


# --- the pages --------------------------------------------------------------------------------------------


def sign_in(page: Page, world: PortalWorld, login: Login, path: str = "/") -> None:
    page.goto(world.base_url + path)
    page.fill("#username", login.username)
    page.fill("#password", login.password)
    page.click("form.login button[type=submit]")
    wait_ready(page)


def wait_ready(page: Page, name: str | None = None, timeout_s: float = 60) -> None:
    """Wait until the page `name` (any, when None) has drawn every panel."""
    selector = f"main[data-ready=true][data-page={name}]" if name else "main[data-ready=true][data-page]"
    page.wait_for_selector(selector, timeout=timeout_s * 1000)


def open_page(page: Page, name: str, **state: str) -> None:
    """Go to the portal page `name` with `state` (kept: the customer) through the URL, and wait for it."""
    current = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
    query = urllib.parse.urlencode({"c": current.get("c", ""), **state, "p": name})
    page.goto(page.url.split("?")[0].rstrip("/") + "/?" + query)
    wait_ready(page, name)


def state_of(page: Page) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))


@dataclass(frozen=True)
class ShownNumber:
    """A number a page shows: its text, the value it was drawn from (`scale` × value is shown), the request it
    came from, its field and the text of its row's first cell (tables)."""

    text: str
    value: float
    scale: float
    request: str
    key: str
    row_label: str | None
    row_key: str | None


_SHOWN = """(limit) => {
  const out = [];
  for (const el of document.querySelectorAll('.tile-value[data-request]')) {
    out.push({text: el.textContent, value: el.dataset.value, scale: '1', request: el.dataset.request,
              key: el.closest('.tile').dataset.metric, row: null, rowkey: null});
  }
  for (const table of document.querySelectorAll('table[data-request]')) {
    for (const tr of Array.from(table.tBodies[0].rows).slice(0, limit)) {
      for (const td of tr.cells) {
        if (td.dataset.value === undefined) continue;
        out.push({text: td.textContent, value: td.dataset.value, scale: td.dataset.scale,
                  request: table.dataset.request, key: td.dataset.key, row: tr.cells[0].textContent,
                  rowkey: tr.cells[0].dataset.key});
      }
    }
  }
  return out;
}"""


def shown_numbers(page: Page, rows_per_table: int = 3) -> list[ShownNumber]:
    return [
        ShownNumber(n["text"], float(n["value"]), float(n["scale"] or 1), n["request"], n["key"], n["row"], n["rowkey"])
        for n in page.evaluate(_SHOWN, rows_per_table)
        if n["value"] not in ("", None)
    ]


def number_in_text(text: str) -> float:
    """The number a formatted text shows (`12,345 min` → 12345, `1.29 %` → 1.29, `−3` → -3)."""
    found = re.search(r"[-−]?[\d,]*\.?\d+", text)
    assert found, f"no number in {text!r}"
    return float(found.group(0).replace(",", "").replace("−", "-"))


def decimals_in_text(text: str) -> int:
    found = re.search(r"\.(\d+)", text)
    return len(found.group(1)) if found else 0
