"""docs/smartquery.md, rendered from the named queries' specs (`catalog.NAMED_QUERIES`)."""

from __future__ import annotations

from sightline.settings import Settings
from sightline.smartquery.cache import ResultCache
from sightline.smartquery.catalog import NAMED_QUERIES
from sightline.smartquery.service import CANCEL_WAIT_S
from sightline.smartquery.spec import NamedQuerySpec
from sightline.smartquery.stored_days import SETTLE
from sightline.smartquery.views import SESSION_GAP

_KINDS = {"string": "string", "number": "number", "list": "list of strings", "time": "epoch seconds"}


_PARAMETERS = "\n".join(
    [
        "| parameter | | meaning |",
        "|---|---|---|",
        "| `planlevel` | optional | the customer's plan level; 403 when it is not |",
        "| `queryname` | required | one of the names below (400 listing them otherwise) |",
        "| `period` | required | `start=<epoch s>,end=<epoch s>`, floored to the minute, as for metrics |",
        "| `filter` | optional | the filter language of the metric API (`[device=tv][country=US\\|CA]`, `device=tv`, "
        "`device=tv\\|stb, country=US`): a condition on a dimension keeps the views it matches (only they are "
        "counted); a condition on a column marked *filterable* keeps the rows it matches (`[cohort=atrisk]`) |",
        "| `limit`, `offset` | optional | the page: 1 to 10000 rows (default 1000), from `offset` (default 0) |",
        "| `granularity` | optional | `auto` (default), `minute`, `5minute`, `10minute`, `hour`, `day`: the bucket "
        "of queries that make a series (`newvsreturning`); validated for all |",
        "| `querycache` | optional | `True` (default): answer an identical request from the query cache; `False`: "
        "compute it, and do not cache it |",
        "| `queryId` | optional | a UUID naming this run of the query (one is made when absent), for its status "
        "and for cancelling it |",
    ]
)
_ENVELOPE = (
    '`{"totalcount": rows in this page, "pagecount": pages, "totalrecords": rows in all, '
    '"response": [{…, "totalpages": pages}, …], "queryId": "…"}`'
)
_SPECS = tuple(NAMED_QUERIES.items())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _query_md(spec: NamedQuerySpec) -> str:
    rows = "\n".join(
        f"| `{c.name}` | {_KINDS[c.kind]}{' (filterable)' if c.filterable else ''} | {_cell(c.description)} |"
        for c in spec.columns
    )
    definitions = "\n".join(f"- {d}" for d in spec.definitions)
    extra = []
    if spec.uses_granularity:
        extra.append("`granularity` sets the bucket of each row (`auto`: by the period's length, as for metrics).")
    if spec.lookback:
        extra.append(f"It also reads the {spec.lookback.days} days before the period (see the definitions).")
    notes = "\n" + "\n".join(extra) + "\n" if extra else ""
    return f"""## `{spec.name}` — {spec.title}

*{spec.question}*
{notes}
| column | type | meaning |
|---|---|---|
{rows}

{definitions}
"""


def smartquery_md() -> str:
    cache = ResultCache()
    names = ", ".join(
        f"[`{name}`](#{name}--{spec.title.lower().replace(' ', '-')})" for name, spec in NAMED_QUERIES.items()
    )
    sections = "\n".join(_query_md(spec) for spec in NAMED_QUERIES.values())
    settle_minutes = int(SETTLE.total_seconds() // 60)
    refresh_s = Settings.model_fields["stored_days_every_s"].default
    return f"""# smartQuery: named queries

<!-- generated from src/sightline/smartquery/ by `sightline docs`; a test fails when this file is stale -->

SmartSight documents `GET /mm-apis/smartQuery/{{customerId}}` (dashboards Content Paths and Subscriber
Insight) but none of its `queryname` values. Sightline's are designed for a content team's first
questions: {names}. Each answers one question with one table of rows.

## Request

`GET /mm-apis/smartQuery/{{customerId}}?planlevel=6831&queryname=contentpaths&period=start=…,end=…`
with a token (`Authorization: Bearer …`) or an API key (`X-API-Key: …`). The customer's plan must include
`smart_query` (docs/plans.md; 403 `plan_forbidden` otherwise).

{_PARAMETERS}

The answer is the envelope of the other query endpoints, with the query's id:
{_ENVELOPE}.
Ratios come as numbers (percentages as 0–100) rounded to 4 decimals, or `null` when their denominator is 0 (the
rule of every metric: docs/metrics.md).

## Query ids, status and cancelling

- `GET /mm-apis/smartQuery/{{customerId}}/queries/{{queryId}}`: `{{"queryId", "queryname", "status",
  "submitted", "finished", "elapsedms", "totalrecords", "cached", "error"}}`, where `status` is `running`,
  `done`, `failed` or `cancelled` (times in epoch seconds). 404 for a queryId the customer never used.
- `DELETE /mm-apis/smartQuery/{{customerId}}/queries/{{queryId}}`: cancels the running query — waiting for
  the engine or running in it (`KILL QUERY` by its tag) — and answers its record once it has stopped
  (within {CANCEL_WAIT_S:g} s), again for a query already cancelled; 409 `query_not_running` when it
  ended otherwise (`done` or `failed`). The cancelled request itself answers 409 `query_cancelled`.
- A queryId runs one query at a time: a request with the queryId of a running query is 409
  `query_id_in_use`. Records of finished queries are kept in memory (the latest 10,000), not across restarts.

## The query cache

An identical request (same customer, query, period, granularity, filter and page) is answered from an
in-memory cache of answers (their JSON bytes), with `cached: true` in its status. An entry is dropped as
soon as new data is stored for its customer at times it read (the period, and its lookback), whatever
path the data came by (the collector or a bulk load); an answer computed while such data arrived is not
kept. The cache holds at most {cache.max_entries} answers and {cache.max_bytes // 1024**2} MiB of them,
the least recently used going first.

## Viewing sessions

Several queries read viewing sessions: what one viewer (one `viewerid`, a device install) watches in a row
— its views that rendered a first frame, in order of start, a new session beginning when a view starts more
than {int(SESSION_GAP.total_seconds() // 60)} minutes after the end of the viewer's previous view, or on
another UTC day. Only views that started in the period count, so sessions are cut at its edges.

A session never spans two UTC days, so a past day's sessions are the same in every period that holds the
whole day.

## Stored days

Some queries sum their period from per-day parts, and the server stores those parts for each past UTC day
once it has been over for {settle_minutes} minutes (checked every {refresh_s:g} s by default):
`contentpaths` the counted steps of paths and transitions of the day's sessions, `subscriberinsight` and
`subscribercohorts` each subscriber's sums of the day. A request reads a day from there when the day lies
whole in its period (for the subscriber queries, whole in its lookback, or in one half of its period), as
long as no data arrived for the day since; it computes the rest of the period, and every request with a
dimension `filter`, from the views. Both give the same rows.

{sections}"""
