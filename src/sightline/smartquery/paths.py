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

from sightline.query.ast import Expr, Null, OrderBy, Select, Window
from sightline.smartquery.rows import row_filter
from sightline.smartquery.spec import DayTable, ResultColumn, SmartQuery
from sightline.smartquery.sql import (
    at,
    col,
    f,
    i,
    item,
    lam,
    named,
    op,
    ratio,
    same,
    text,
)
from sightline.smartquery.views import (
    Spans,
    collapsed_titles,
    name_of,
    sessions,
    stored_or_computed,
    whole_days,
)
from sightline.store.schema import PATH_ENTRIES_TABLE

MAX_PATH = 5
END = "(end)"
_PATH, _NEXT = 1, 2
_NULL = Null()

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


PARENT = tuple(f"p{j}" for j in range(1, MAX_PATH))
"""A path without its last step, as `MAX_PATH - 1` title hashes, 0 past its end: a key of fixed width."""


def _zero() -> Expr:
    return f("toUInt64", i(0))


_ENTRY_FIELDS = ("kind", *PARENT, "next")
"""The fields of an entry, in its tuple's order: its kind, its parent (the path before its last step, or the
title before a transition), and its last step (0: `(end)`)."""


_ENTRY_COLUMNS = ("entry_hash", *(f"e_{name}" for name in _ENTRY_FIELDS), "n")
"""An entry's hash, its fields (`e_kind`, `e_p1` … `e_p4`, `e_next`) and its count: the columns of
`PATH_ENTRIES_TABLE` a day's slice holds."""


def counted_entries(query: SmartQuery) -> Select:
    """Each distinct entry (a path's step or a transition) of the period's viewing sessions and how many times
    it happened (`_ENTRY_COLUMNS`). The days of `query.stored` are read as stored, the rest of the period is
    built from `views`."""
    rows = stored_or_computed(
        query, query.period, PATH_ENTRIES_TABLE, _ENTRY_COLUMNS, lambda spans: _entries(query, spans)
    )
    # Entries are grouped by their hashes; their fields come back by `any` of each number (an `any` of the
    # whole tuple, or a key of six numbers, costs several times more).
    return Select(
        (
            *same("entry_hash"),
            *named(**{f"e_{name}": f("any", col(f"e_{name}")) for name in _ENTRY_FIELDS}),
            *named(n=f("sum", col("n"))),
        ),
        rows,
        group_by=(col("entry_hash"),),
    )


def _entries(query: SmartQuery, spans: Spans | None) -> Select:
    """One row per entry of each distinct sequence of titles of the sessions of the views started in the
    period (or in `spans`): `entry_hash`, its fields (`e_kind` …) and `n`, the sessions of its sequence."""
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
    sequences = Select(
        named(titles=col("session_titles"), weight=f("count")),
        Select(named(session_titles=collapsed_titles(col("session"))), sessions(query, spans=spans)),
        group_by=(col("session_titles"),),
    )
    entry = col("entry")
    return Select(
        named(
            entry_hash=f("cityHash64", entry),
            **{f"e_{name}": item(entry, j + 1) for j, name in enumerate(_ENTRY_FIELDS)},
            n=col("weight"),
        ),
        Select(named(entry=f("arrayJoin", f("arrayConcat", prefix, following)), weight=col("weight")), sequences),
    )


DAYS = DayTable("paths", PATH_ENTRIES_TABLE, counted_entries, lambda query: whole_days(query.period))
"""A session never spans two UTC days, so a whole day's entries are the same in every period that holds it."""


def build(query: SmartQuery) -> Select:
    counted = counted_entries(query)
    parent = tuple(col(name) for name in PARENT)
    entry_parent = (col("e_kind"), *(col(f"e_{name}") for name in PARENT))
    per_parent = Select(
        named(
            item_kind=f("any", col("e_kind")),
            **{name: f("any", col(f"e_{name}")) for name in PARENT},
            parent_count=f("sum", col("n")),
            nexts=f("arrayZip", f("groupArray", col("e_next")), f("groupArray", col("n"))),
        ),
        counted,
        group_by=(f("cityHash64", *entry_parent),),
    )
    pairs = Select(same("item_kind", *PARENT, "parent_count") + named(pair=f("arrayJoin", col("nexts"))), per_parent)
    after = item(col("pair"), 1)
    is_path = op("=", col("item_kind"), i(_PATH))
    sessions_total = Window(f("sum", f("if", op("AND", is_path, op("=", col("p2"), i(0))), item(col("pair"), 2), i(0))))
    steps: Expr = f("toUInt32", op("!=", after, i(0)))
    for column in parent:
        steps = op("+", steps, f("toUInt32", op("!=", column, i(0))))
    return Select(
        named(
            rank=f("multiIf", is_path, i(1), op("=", after, i(0)), i(3), i(2)),
            kind=f("multiIf", is_path, text("path"), op("=", after, i(0)), text("exit"), text("transition")),
            **{name: col(name) for name in PARENT},
            after=after,
            pathlength=steps,
            count=item(col("pair"), 2),
            share=ratio(item(col("pair"), 2), col("parent_count")),
            sessionshare=f("if", is_path, ratio(item(col("pair"), 2), sessions_total), _NULL),
        ),
        pairs,
        where=row_filter(query.row_filter),
        order_by=(
            OrderBy(col("rank"), "ASC"),
            OrderBy(col("count"), "DESC"),
            *(OrderBy(column, "ASC") for column in (*parent, col("after"))),
        ),
    )


def name_page(query: SmartQuery, page: Select) -> Select:
    """The page of `build`'s rows with their titles named: the path of each row as asset ids and names."""
    parent = [col(name) for name in PARENT]
    order = page.order_by
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
