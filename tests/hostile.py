"""Hostile strings for the tests that throw them at the query parameters, and the check they make of the SQL:
the API's, through the app (tests/api/test_metrics_hostile.py), and the compiler's, from the parameters to the
printed SQL (tests/query/test_request_sql.py, test_errors_query.py, test_sessions_query.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from hypothesis import strategies as st

FRAGMENTS = (
    "",
    " ",
    "' OR 1=1 --",
    "'); DROP TABLE events; --",
    "); DROP TABLE events; --",
    "`",
    "`events`",
    "{p0:String}",
    "{p1:UInt32}",
    "{customer_id:UInt32}",
    "\\",
    "\\\\",
    "\\N",
    "\\x55S",
    "\\'",
    "%00",
    "%",
    "\x00",
    "\t",
    "\n",
    "\r\n",
    "\x1b[31m",
    "\x7f",
    "\u0085",
    "\u202e",
    "\ufeff",
    "\u3000",
    "😀",
    "İ",
    "ﬃ",
    "[",
    "]",
    "][",
    "|",
    "||",
    "=",
    "!",
    "!=",
    ">=",
    ",",
    ",,",
    ";",
    "--",
    "/*",
    "*/",
    ")",
    "(",
    '"',
    "null",
    "None",
    "true",
    "SELECT 1",
    "UNION ALL SELECT * FROM system.users",
    "timestamp",
    "viewercount",
    "country",
)
"""Pieces of hostile text: SQL, placeholders, escapes, control and invisible characters, the filter grammar's own
characters, names of columns and metrics."""
NUMBER: st.SearchStrategy[str] = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e308", "-0", ".5", "5.", "+3", "1E-400", "-1.7976931348623157e308"]),
)
"""A number as text, as a qoefilter condition may hold it: every integer and float ClickHouse's types meet."""
_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\[\]|]")
"""What the filter grammar refuses in a value: brackets, bars and control characters other than tab, CR and LF."""
VALUE_FRAGMENTS = [fragment for fragment in FRAGMENTS if not _REFUSED.search(fragment)]
"""The hostile pieces the filter grammar takes inside a value."""


def filter_value_ok(text: str) -> bool:
    """A value the filter grammar accepts whole: non-blank, no brackets or bar, no refused characters."""
    return bool(text.strip()) and not _REFUSED.search(text)


FILTER_VALUES: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(VALUE_FRAGMENTS),
    st.lists(st.sampled_from(VALUE_FRAGMENTS), min_size=2, max_size=5).map("".join),
    st.text(min_size=1, max_size=40),
).filter(filter_value_ok)
"""A value of a filter condition, hostile or not, that the grammar accepts."""
_GUARDED_READ = re.compile(r"FROM `([a-z0-9_]+)` WHERE `customer_id` = \{(p[0-9]+):UInt32\}")


def guarded_reads(sql: str, params: Mapping[str, object], customer_id: int) -> list[str]:
    """The tables `sql` reads, after checking that each `FROM` has its own tenant guard, bound to `customer_id`,
    as the first conjunct of its WHERE."""
    guards = _GUARDED_READ.findall(sql)
    assert sql.count("FROM `") == len(guards) == sql.count("`customer_id` = {p"), sql
    assert all(params[name] == customer_id for _, name in guards), (guards, params)
    return [table for table, _ in guards]
