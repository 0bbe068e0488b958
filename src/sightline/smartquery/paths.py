"""`contentpaths`: the sequences of titles viewers watch in a row, as a path view shows them.

From each viewing session (`views.sessions`), its titles in order (a title repeated right after itself
kept once), three kinds of rows:
- `path`: the first 2 to `MAX_PATH` titles of sessions, or their first 1 to `MAX_PATH - 1` titles followed
  by `(end)` when the session ended there; `count` sessions began so; `share` is `count` ÷ the sessions that
  began with the path without its last step (the continuation rate); `sessionshare` is `count` ÷ all sessions;
- `transition`: title A then title B, anywhere in a session; `share` is `count` ÷ the times A was watched;
- `exit`: title A was the last of its session (A → `(end)`); `share` is `count` ÷ the times A was watched,
  so a title's transitions and exit add up to 1.
"""

from __future__ import annotations

from sightline.query.ast import Expr, OrderBy, Param, Select, Table, Trusted, UnionAll, Window
from sightline.smartquery.rows import row_filter
from sightline.smartquery.spec import ResultColumn, SmartQuery
from sightline.smartquery.sql import (
    and_,
    at,
    col,
    f,
    i,
    item,
    lam,
    moment,
    named,
    op,
    ratio,
    same,
    text,
    total_records,
)
from sightline.smartquery.views import Spans, collapsed_titles, day_start, live_spans, name_of, sessions
from sightline.store.schema import TITLE_SEQUENCES_TABLE

MAX_PATH = 5
END = "(end)"
_PATH, _NEXT = 1, 2
_NULL = Trusted("NULL")

COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("kind", "string", "`path`, `transition` or `exit`.", filterable=True),
    ResultColumn("pathlength", "number", "Titles in `titles`, `(end)` not counted.", filterable=True),
    ResultColumn("assetids", "list", "The titles' asset ids, in order; `(end)` where sessions stopped."),
    ResultColumn("titles", "list", "The titles' names (`assetname`), in order; `(end)` where sessions stopped."),
    ResultColumn("count", "number", "Sessions that began with the path, or times the transition or exit happened."),
    ResultColumn(
        "share",
        "number",
        "`count` ÷ the count of the row's parent: for a path, the sessions that began with the path without "
        "its last step; for a transition or exit from title A, the times A was watched in a session.",
    ),
    ResultColumn("sessionshare", "number", "For a path: `count` ÷ all sessions; empty for the other kinds."),
)

DEFINITIONS: tuple[str, ...] = (
    "A viewing session is one viewer's (one `viewerid`'s) views that rendered a first frame, in order of "
    "start, cut where a view starts more than 30 minutes after the end of the viewer's previous view, and at "
    "midnight UTC; a title repeated right after itself (a retry, a resume) is one step. Only views started in "
    "the period count.",
    f"Paths are the first 2 to {MAX_PATH} titles of sessions; a path ending in `(end)` counts the sessions that "
    "ended there. Transitions and exits are counted anywhere in a session.",
    "Rows come paths first, then transitions, then exits, each by `count` (largest first).",
)


_PARENT = tuple(f"p{j}" for j in range(1, MAX_PATH))
"""A path without its last step, as `MAX_PATH - 1` title hashes, 0 past its end: a key of fixed width."""


def _zero() -> Expr:
    return f("toUInt64", i(0))


def title_sequences(query: SmartQuery) -> Select:
    """Each distinct sequence of titles (`titles`, collapsed) of the period's viewing sessions, and how many
    sessions played it (`weight`): read from the stored slices of the days of `query.stored`, built from
    `views` for the rest of the period."""
    spans = live_spans(query.period, query.stored.days)
    if spans is None:
        return _built_sequences(query, None)
    days = query.stored.days
    stored = Select(
        named(titles=col("titles"), weight=col("sessions")),
        Table(TITLE_SEQUENCES_TABLE, query.customer_id),
        where=and_(
            op(">=", col("day"), f("toDate", moment(day_start(days[0])))),
            op("<=", col("day"), f("toDate", moment(day_start(days[-1])))),
            f("has", Param(query.stored.slices, "Array(UInt64)"), col("slice")),
        ),
    )
    return Select(
        named(titles=col("titles"), weight=f("sum", col("weight"))),
        UnionAll((stored, _built_sequences(query, spans)) if spans else (stored,)),
        group_by=(col("titles"),),
    )


def _built_sequences(query: SmartQuery, spans: Spans | None) -> Select:
    """`title_sequences` of the sessions of the views started in the period (or in `spans`)."""
    return Select(
        named(titles=col("session_titles"), weight=f("count")),
        Select(named(session_titles=collapsed_titles(col("session"))), sessions(query, spans=spans)),
        group_by=(col("session_titles"),),
    )


def build(query: SmartQuery) -> Select:
    titles = col("titles")
    n = f("length", titles)
    k = col("k")
    prefix = f(  # the session's first k - 1 titles, then its k-th or (end)
        "arrayMap",
        lam(
            "k",
            f(
                "tuple",
                i(_PATH),
                *(f("if", op(">", k, i(j)), at(titles, i(j)), _zero()) for j in range(1, MAX_PATH)),
                f("if", op(">", k, n), _zero(), at(titles, k)),
            ),
        ),
        f("range", i(2), op("+", f("least", op("+", n, i(1)), i(MAX_PATH)), i(1))),
    )
    following = f(  # each title, then the next or (end)
        "arrayMap",
        lam(
            "k",
            f(
                "tuple",
                i(_NEXT),
                at(titles, k),
                *(_zero() for _ in range(2, MAX_PATH)),
                f("if", op("=", k, n), _zero(), at(titles, op("+", k, i(1)))),
            ),
        ),
        f("arrayEnumerate", titles),
    )
    # Sessions that played the same titles give the same entries: about a third as many distinct sequences
    # as sessions, so the entries are made once per sequence and counted with its `weight`.
    entries = Select(
        named(entry=f("arrayJoin", f("arrayConcat", prefix, following)), weight=col("weight")), title_sequences(query)
    )
    parent = tuple(col(name) for name in _PARENT)
    # Entries and parents are grouped by their hashes; their fields come back by `any` of each number (an
    # `any` of the whole tuple, or a key of six numbers, costs several times more).
    counted = Select(
        named(
            entry_kind=f("any", item(col("entry"), 1)),
            **{f"entry_{name}": f("any", item(col("entry"), j + 2)) for j, name in enumerate(_PARENT)},
            next=f("any", item(col("entry"), MAX_PATH + 1)),
            n=f("sum", col("weight")),
        ),
        entries,
        group_by=(f("cityHash64", col("entry")),),
    )
    entry_parent = (col("entry_kind"), *(col(f"entry_{name}") for name in _PARENT))
    per_parent = Select(
        named(
            item_kind=f("any", col("entry_kind")),
            **{name: f("any", col(f"entry_{name}")) for name in _PARENT},
            parent_count=f("sum", col("n")),
            nexts=f("arrayZip", f("groupArray", col("next")), f("groupArray", col("n"))),
        ),
        counted,
        group_by=(f("cityHash64", *entry_parent),),
    )
    pairs = Select(same("item_kind", *_PARENT, "parent_count") + named(pair=f("arrayJoin", col("nexts"))), per_parent)
    after = item(col("pair"), 1)
    is_path = op("=", col("item_kind"), i(_PATH))
    sessions_total = Window(f("sum", f("if", op("AND", is_path, op("=", col("p2"), i(0))), item(col("pair"), 2), i(0))))
    steps: Expr = f("toUInt32", op("!=", after, i(0)))
    for column in parent:
        steps = op("+", steps, f("toUInt32", op("!=", column, i(0))))
    rows = Select(
        (
            *named(
                rank=f("multiIf", is_path, i(1), op("=", after, i(0)), i(3), i(2)),
                kind=f("multiIf", is_path, text("path"), op("=", after, i(0)), text("exit"), text("transition")),
                **{name: col(name) for name in _PARENT},
                after=after,
                pathlength=steps,
                count=item(col("pair"), 2),
                share=ratio(item(col("pair"), 2), col("parent_count")),
                sessionshare=f("if", is_path, ratio(item(col("pair"), 2), sessions_total), _NULL),
            ),
            total_records(),
        ),
        pairs,
        where=row_filter(query.row_filter),
    )
    order = (
        OrderBy(col("rank"), "ASC"),
        OrderBy(col("count"), "DESC"),
        *(OrderBy(column, "ASC") for column in (*parent, col("after"))),
    )
    page = Select(rows.columns, rows.source, rows.where, order_by=order, limit=query.limit, offset=query.offset)
    path = f("arrayPushBack", f("arrayFilter", lam("h", op("!=", col("h"), i(0))), f("array", *parent)), col("after"))
    return Select(
        named(
            kind=col("kind"),
            pathlength=col("pathlength"),
            assetids=f("arrayMap", lam("h", name_of(query, col("h"), "assetid", END)), path),
            titles=f("arrayMap", lam("h", name_of(query, col("h"), "assetname", END)), path),
        )
        + same("count", "share", "sessionshare", "totalrecords"),
        page,
        order_by=order,
    )
