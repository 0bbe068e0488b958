"""The structured field dictionary parser: RFC 8941 values, the errors it names, and totality."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sightline.ingest.structured_fields import (
    InnerList,
    Item,
    StructuredFieldError,
    Token,
    parse_dictionary,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1", {"a": Item(1, {})}),
        ("a=-12, b=3.5", {"a": Item(-12, {}), "b": Item(3.5, {})}),
        ('sid="6e2f-\\"x\\""', {"sid": Item('6e2f-"x"', {})}),
        ("sta=p", {"sta": Item(Token("p"), {})}),
        ("su", {"su": Item(True, {})}),
        ("bg=?0,bs=?1", {"bg": Item(False, {}), "bs": Item(True, {})}),
        ("br=(3000;v 128;a)", {"br": InnerList((Item(3000, {"v": True}), Item(128, {"a": True})), {})}),
        ('nor=("a.m4s";r="0-99")', {"nor": InnerList((Item("a.m4s", {"r": "0-99"}),), {})}),
        ("ec=()", {"ec": InnerList((), {})}),
        ("x=:aGk=:", {"x": Item(b"hi", {})}),
        ("a=1,a=2", {"a": Item(2, {})}),
        ("  a=1 ,\tb=2  ", {"a": Item(1, {}), "b": Item(2, {})}),
        ("com.example-myNumericKey=500", {"com.example-myNumericKey": Item(500, {})}),
        ("", {}),
    ],
)
def test_values_parse_as_rfc_8941_says(text: str, expected: dict[str, object]) -> None:
    assert parse_dictionary(text) == expected


def test_tokens_are_told_from_strings() -> None:
    parsed = parse_dictionary('a=p,b="p"')
    assert isinstance(parsed["a"], Item)
    assert isinstance(parsed["b"], Item)
    assert isinstance(parsed["a"].value, Token)
    assert not isinstance(parsed["b"].value, Token)


@pytest.mark.parametrize(
    "text",
    [
        "A=1",
        "a=1,",
        "a=1;",
        "a=1 b=2",
        "a=",
        'a="unterminated',
        'a="bad \\n escape"',
        'a="tab\there"',
        "a=(1 2",
        "a=(1,2)",
        "a=1234567890123456",
        "a=1.2345",
        "a=1234567890123.5",
        "a=-",
        "a=?2",
        "a=:not base64!:",
        "a=@",
        "a=1,,b=2",
        "a=é",
    ],
)
def test_malformed_text_raises_the_typed_error(text: str) -> None:
    with pytest.raises(StructuredFieldError):
        parse_dictionary(text)


def test_overlong_input_is_refused() -> None:
    with pytest.raises(StructuredFieldError, match="longer than"):
        parse_dictionary("a=1," * 5000)


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_the_typed_error(text: str) -> None:
    with contextlib.suppress(StructuredFieldError):
        parse_dictionary(text)


@given(st.text(alphabet='abe=,;()" ?01:-.*ptsx\t\\', max_size=120))
def test_near_miss_text_parses_or_raises_the_typed_error(text: str) -> None:
    with contextlib.suppress(StructuredFieldError):
        parse_dictionary(text)
