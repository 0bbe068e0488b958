"""SQL statement text exists only in the printer (`query/printer.py`) and in the schema (`store/schema.py`,
`store/migrations.py`): every other module of src/ builds the AST, and the store runs only what those made.

A statement is recognised by its opening words (`SELECT x`, `INSERT INTO`, `DELETE FROM`, `ALTER TABLE`, …) in a
string literal of the code; docstrings and comments, which name statements in prose, are not code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sightline"
ALLOWED = {"query/printer.py", "store/schema.py", "store/migrations.py"}
STATEMENT = re.compile(
    r"\b(SELECT\s+(DISTINCT\s+)?[\w`*{(]|INSERT\s+INTO|DELETE\s+FROM|ALTER\s+TABLE|OPTIMIZE\s+TABLE|"
    r"KILL\s+QUERY\s+WHERE|SYSTEM\s+[A-Z]{4,}|TRUNCATE\s+TABLE|DROP\s+(TABLE|VIEW)|CREATE\s+(TABLE|MATERIALIZED|VIEW)|"
    r"EXCHANGE\s+TABLES|SET\s+[a-z_]+\s*=|SETTINGS\s+[a-z_]+\s*=)"
)
TOKENS = {"_PRINTED": "query/printer.py", "_SCHEMA": "store/migrations.py"}
"""The token each kind of statement's constructor asks for, and the one module of src/ that may name it."""


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the string constants that are docstrings: of a module, class or function, or of an attribute
    (a string alone as a statement)."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for statement in body:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return found


def statements_in(source: str) -> list[str]:
    """The string literals of `source`'s code (docstrings left out) that hold SQL statement text."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and STATEMENT.search(node.value)
    ]


def _modules() -> list[tuple[str, str]]:
    return [(path.relative_to(SRC).as_posix(), path.read_text()) for path in sorted(SRC.rglob("*.py"))]


@pytest.mark.parametrize(
    "source",
    [
        'store.query("SELECT 1")',
        'sql = f"INSERT INTO {table} (a) VALUES (1)"',
        'DELETE = "DELETE FROM path_entries WHERE customer_id = {c:UInt32}"',
        'run("ALTER TABLE views ADD COLUMN x UInt8")',
        'session.query("SET max_execution_time = 1")',
        'kill = "KILL QUERY WHERE 1"',
        'x = "SELECT `a` FROM t" + " SETTINGS log_comment = 1"',
    ],
)
def test_the_check_finds_statement_text(source: str) -> None:
    assert statements_in(source)


def test_the_check_leaves_prose_alone() -> None:
    docstring = '"""The inner SELECT reads `views`; INSERT INTO events is the writer\'s."""'
    source = f'{docstring}\nhelp = "cancels the query (`KILL QUERY`)"'
    assert statements_in(source) == []


def test_sql_statement_text_is_only_in_the_printer_and_the_schema() -> None:
    found = {name: statements_in(source) for name, source in _modules() if name not in ALLOWED}
    assert {name: texts for name, texts in found.items() if texts} == {}


def test_only_the_printer_and_the_migrations_hold_their_tokens() -> None:
    for token, owner in TOKENS.items():
        holders = [name for name, source in _modules() if re.search(rf"\b{token}\b", source)]
        assert holders == [owner]
