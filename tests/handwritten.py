"""SQL written by hand in tests, to look into the store beyond what the API asks (counts over every customer,
system tables, rows written as an older version wrote them, a migration's DDL run again).

The store runs only statements the printer made (`query.printer.Statement`) and the schema's; a test takes the
printer's token here, on purpose and in this one place, to make one from text. src/ never does
(tests/test_sql_text.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from sightline.query.printer import _PRINTED, Statement


def by_hand(sql: str, params: Mapping[str, str | int | float] | None = None) -> Statement:
    """`sql` with the values of its placeholders, as a statement the store runs."""
    return Statement(sql, dict(params or {}), _PRINTED)
