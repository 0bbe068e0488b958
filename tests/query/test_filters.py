"""The filter languages: every example of the reference, refusals with their messages, and properties."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightline.catalog import DIMENSIONS
from sightline.query.filters import (
    MAX_CONDITIONS,
    MAX_LENGTH,
    MAX_VALUES,
    And,
    Condition,
    FieldKind,
    FilterError,
    Node,
    Operator,
    Or,
    fields_of,
    parse_filter,
)
from sightline.query.qoefilter import parse_qoefilter

FIELDS: dict[str, FieldKind] = {d.name: d.kind for d in DIMENSIONS} | {"starttime": "number", "endtime": "number"}
STRING_FIELDS = sorted(name for name, kind in FIELDS.items() if kind == "string")
NUMBER_FIELDS = sorted(name for name, kind in FIELDS.items() if kind == "number")
METRICS = {"latency": "seconds", "bufferingratio": "percent", "buffcount": "count", "playdur": "seconds"}


def c(field: str, op: Operator, *values: str | float) -> Condition:
    return Condition(field, op, values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # reference §1.3 and §3.2, legacy
        ("subscriberid={subscriber-id}", c("subscriberid", "=", "{subscriber-id}")),
        ("assetid=GameOfThrones", c("assetid", "=", "GameOfThrones")),
        # §3.2 stream-analytics
        (
            "city=Bengaluru | SanDiego, device= Smartphone",
            And((c("city", "=", "Bengaluru", "SanDiego"), c("device", "=", "Smartphone"))),
        ),
        # §1.6 and §3.2 current
        (
            "[country=US|Canada][platform=Android]",
            And((c("country", "=", "US", "Canada"), c("platform", "=", "Android"))),
        ),
        ("[genre=value]", c("genre", "=", "value")),  # the template `[dimension=value]`
        # blank
        ("", None),
        ("  \t\n ", None),
        # negation and numeric comparisons
        ("country!=US", c("country", "!=", "US")),
        ("[country!=US|CA]", c("country", "!=", "US", "CA")),
        ("[season>=2]", c("season", ">=", 2)),
        ("season > 2, episode<10", And((c("season", ">", 2), c("episode", "<", 10)))),
        ("[season<=2.5][asn=13335|15169]", And((c("season", "<=", 2.5), c("asn", "=", 13335, 15169)))),
        ("[contentduration>-1e3]", c("contentduration", ">", -1000.0)),
        (
            "[starttime>=1775749920][starttime<1775836379]",
            And((c("starttime", ">=", 1775749920), c("starttime", "<", 1775836379))),
        ),
        # spaces
        ("city=San Diego", c("city", "=", "San Diego")),
        (
            "  [ city = San  Diego | Los Angeles ]  [ device=tv ] ",
            And((c("city", "=", "San  Diego", "Los Angeles"), c("device", "=", "tv"))),
        ),
        (" city = New York ,device=tv ", And((c("city", "=", "New York"), c("device", "=", "tv")))),
        # characters that are only characters
        ("[city=Washington, D.C.]", c("city", "=", "Washington, D.C.")),
        ("assetid=a=b", c("assetid", "=", "a=b")),
        ("assetid==x", c("assetid", "=", "=x")),
        ("assetid!==x", c("assetid", "!=", "=x")),
        ("assetid=a<b>c!", c("assetid", "=", "a<b>c!")),
        ('[assetid=it\'s; "quoted" -- (x)]', c("assetid", "=", 'it\'s; "quoted" -- (x)')),
        ("city=Zürich|東京", c("city", "=", "Zürich", "東京")),
        # a field may repeat: the conditions are AND-ed
        ("[country=US][country=CA]", And((c("country", "=", "US"), c("country", "=", "CA")))),
    ],
)
def test_parse_filter(text: str, expected: Node | None) -> None:
    assert parse_filter(text, FIELDS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # reference §1.6 and §3.3
        ("latency>3 AND bufferingratio>5", And((c("latency", ">", 3), c("bufferingratio", ">", 5)))),
        ("bufferingratio > 10 , buffcount > 1", And((c("bufferingratio", ">", 10), c("buffcount", ">", 1)))),
        ("bufferingratio > 10", c("bufferingratio", ">", 10)),
        ("", None),
        (" ", None),
        ("latency>=3 and buffcount!=0", And((c("latency", ">=", 3), c("buffcount", "!=", 0)))),
        ("latency<0.5 Or playdur=60", Or((c("latency", "<", 0.5), c("playdur", "=", 60)))),
        (
            "latency>3 OR buffcount>1 AND bufferingratio<=2.5e1",
            Or((c("latency", ">", 3), And((c("buffcount", ">", 1), c("bufferingratio", "<=", 25.0))))),
        ),
        ("latency>-1,buffcount<+2", And((c("latency", ">", -1), c("buffcount", "<", 2)))),
        ("latency>3AND buffcount>1", And((c("latency", ">", 3), c("buffcount", ">", 1)))),
        ("\tlatency  >  .5\n", c("latency", ">", 0.5)),
    ],
)
def test_parse_qoefilter(text: str, expected: Node | None) -> None:
    assert parse_qoefilter(text, METRICS) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[contry=US]", "unknown field 'contry' in filter; did you mean 'country'? allowed: appname, appversion, asn,"),
        ("Country=US", "did you mean 'country'?"),
        ("zzzzzz=1", "unknown field 'zzzzzz' in filter; allowed: "),
        ("[country=US", "malformed filter at position 11: expected ']'"),
        ("[country=US][", "malformed filter at position 13: expected ']'"),
        ("[country=[US]]", "malformed filter at position 9: expected ']' before the next '[' (brackets do not nest)"),
        ("[country=US],[platform=Android]", "malformed filter at position 12: expected '[' but found ','"),
        ("[country=US] x", "malformed filter at position 13: expected '[' but found 'x'"),
        ("country=US]", "malformed filter at position 10: unexpected ']'; in the bracket syntax"),
        ("country=US, [platform=Android]", "malformed filter at position 12: unexpected '['"),
        ("[]", "malformed filter at position 1: empty condition"),
        ("country=US,", "malformed filter at position 11: empty condition"),
        ("country=US,,device=tv", "malformed filter at position 11: empty condition"),
        ("country", "malformed filter at position 7: expected an operator (=, !=, >, >=, <, <=) after 'country'"),
        ("[country!US]", "malformed filter at position 9: expected '=' after '!'"),
        ("=US", "malformed filter at position 0: expected a field name before '='"),
        ("[cdn>akamai]", "operator '>' needs a numeric field; 'cdn' is a string field"),
        ("[country<=US]", "operator '<=' needs a numeric field; 'country' is a string field"),
        ("[season>1|2]", "operator '>' takes one value; 'season' has 2"),
        ("[country=]", "empty value for 'country' at position 9"),
        ("[country=US| ]", "empty value for 'country' at position 12"),
        ("city=Bengaluru | , device=tv", "empty value for 'city' at position 16"),
        ("[season=two]", "value 'two' for 'season' at position 8 is not a number"),
        ("[season=1_000]", "value '1_000' for 'season' at position 8 is not a number"),
        ("[season=nan]", "is not a number"),
        ("[season=inf]", "is not a number"),
        ("[season=٣]", "is not a number"),
        ("[season=1e999]", "value '1e999' for 'season' at position 8 is out of range"),
        ("[season=9223372036854775808]", "is out of range"),
        ("[season=US' OR 1=1 --]", "value \"US' OR 1=1 --\" for 'season' at position 8 is not a number"),
        ("country=U\x00S", "character U+0000 at position 9 is not allowed in filter"),
        ("country=\ud800", "character U+D800 at position 8 is not allowed in filter"),
        ("x" * (MAX_LENGTH + 1), f"filter is {MAX_LENGTH + 1} characters long; at most {MAX_LENGTH} are allowed"),
        ("[asn=1]" * (MAX_CONDITIONS + 1), f"filter has more than {MAX_CONDITIONS} conditions"),
        (",".join(["asn=1"] * (MAX_CONDITIONS + 1)), f"filter has more than {MAX_CONDITIONS} conditions"),
        ("[asn=" + "|".join(["1"] * (MAX_VALUES + 1)) + "]", f"filter has {MAX_VALUES + 1} values; at most"),
    ],
)
def test_parse_filter_refuses(text: str, fragment: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text, FIELDS)
    assert caught.value.parameter == "filter"
    assert fragment in caught.value.message
    assert str(caught.value) == caught.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "latncy>3",
            "unknown metric 'latncy' in qoefilter; did you mean 'latency'? allowed: buffcount, bufferingratio,",
        ),
        ("latency>3 AND", "malformed qoefilter at position 13: expected a metric name"),
        ("AND latency>3", "malformed qoefilter at position 0: expected a metric name but found 'AND'"),
        ("latency", "malformed qoefilter at position 7: expected an operator (=, !=, >, >=, <, <=)"),
        ("latency 3", "malformed qoefilter at position 8: expected an operator (=, !=, >, >=, <, <=) but found '3'"),
        ("latency>", "malformed qoefilter at position 8: expected a number"),
        ("latency>>3", "malformed qoefilter at position 8: expected a number but found '>'"),
        ("latency>high", "malformed qoefilter at position 8: expected a number but found 'high'"),
        ("latency>3 buffcount>1", "malformed qoefilter at position 10: expected AND, OR or ',' but found 'buffcount'"),
        ("latency>3 AND OR buffcount>1", "at position 14: expected a metric name but found 'OR'"),
        ("(latency>3)", "at position 0: unexpected character '('; parentheses are not supported"),
        ("bufferingratio>10%", "malformed qoefilter at position 17: unexpected character '%'"),
        ("latency>1e999", "value '1e999' for 'latency' at position 8 is out of range"),
        ("latency>3\x00", "character U+0000 at position 9 is not allowed in qoefilter"),
        (" AND ".join(["latency>1"] * (MAX_CONDITIONS + 1)), f"qoefilter has more than {MAX_CONDITIONS} conditions"),
        ("latency>1 " * 1000, f"at most {MAX_LENGTH} are allowed"),
    ],
)
def test_parse_qoefilter_refuses(text: str, fragment: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_qoefilter(text, METRICS)
    assert caught.value.parameter == "qoefilter"
    assert fragment in caught.value.message


def test_unknown_names_come_with_the_allowed_ones() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter("[contry=US]", FIELDS)
    assert caught.value.allowed == tuple(sorted(FIELDS))
    with pytest.raises(FilterError) as caught:
        parse_qoefilter("latncy>3", METRICS)
    assert caught.value.allowed == ("buffcount", "bufferingratio", "latency", "playdur")


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (c("country", "=", "US"), {"country"}),
        (And((c("country", "=", "US"), c("season", ">", 1), c("country", "!=", "CA"))), {"country", "season"}),
        (
            Or((c("latency", ">", 3), And((c("buffcount", ">", 1), c("playdur", "<", 9))))),
            {"latency", "buffcount", "playdur"},
        ),
    ],
)
def test_fields_of(node: Node, expected: set[str]) -> None:
    assert fields_of(node) == expected


HOSTILE = [
    "US' OR 1=1 --",
    "'; DROP TABLE views; --",
    '") OR ("1"="1',
    "x) UNION SELECT * FROM system.users --",
    "{p1:String}",
    "\\' OR 1\\",
    "%27 OR %271%27=%271",
    "`id`; SELECT sleep(3)",
    "$$ */ /* ' \"",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("template", ["country={}", "[country={}]", "[country!={}|CA]", "city=A | {} , device=tv"])
def test_hostile_values_are_just_values(value: str, template: str) -> None:
    node = parse_filter(template.format(value), FIELDS)
    assert node is not None
    conditions = node.children if isinstance(node, And) else (node,)
    assert any(value in condition.values for condition in conditions if isinstance(condition, Condition))


# Properties ---------------------------------------------------------------------------------------

SYNTAX = ["[", "]", "|", ",", "=", "!", "!=", "<", ">=", "(", ")", " ", "\t", "AND", "or", ".", "-", "+", "e"]
FRAGMENTS = st.sampled_from([*SYNTAX, *FIELDS, *METRICS, "1", "2.5", "1e3", "US", "San Diego"]) | st.text(
    st.characters(exclude_categories=()), max_size=6
)
TEXTS = st.text(st.characters(exclude_categories=())) | st.lists(FRAGMENTS, max_size=30).map("".join)


def parse_filter_text(text: str) -> Node | None:
    return parse_filter(text, FIELDS)


def parse_qoefilter_text(text: str) -> Node | None:
    return parse_qoefilter(text, METRICS)


def refusal(parse: Callable[[str], Node | None], text: str) -> FilterError | None:
    """The FilterError `parse(text)` raises, None when it parses; any other exception fails the test."""
    try:
        parse(text)
    except FilterError as error:
        return error
    return None


@settings(max_examples=400)
@given(TEXTS, st.sampled_from([(parse_filter_text, "filter"), (parse_qoefilter_text, "qoefilter")]))
def test_any_text_parses_or_raises_filter_error(text: str, parser: tuple[Callable[[str], Node | None], str]) -> None:
    parse, parameter = parser
    error = refusal(parse, text)
    assert error is None or (error.parameter == parameter and error.message)


@given(st.tuples(TEXTS.filter(bool), st.integers(1, 10_000)).map(lambda pair: (pair[0] * pair[1])[:10_000]))
def test_long_texts_parse_or_raise_filter_error(text: str) -> None:
    refusal(parse_filter_text, text)
    refusal(parse_qoefilter_text, text)


# Round trip: random trees printed in each syntax by a test-only printer parse back to themselves.

VALUE_CHARACTERS = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="[]|,") | st.sampled_from(
    list(" '\";-)(=!<>")
)
STRING_VALUES = st.text(VALUE_CHARACTERS, min_size=1, max_size=12).map(str.strip).filter(bool)
NUMBERS = st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
PADS = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    if draw(st.booleans()):
        field = draw(st.sampled_from(STRING_FIELDS))
        op: Operator = draw(st.sampled_from(["=", "!="]))
        return Condition(field, op, tuple(draw(st.lists(STRING_VALUES, min_size=1, max_size=4))))
    field = draw(st.sampled_from(NUMBER_FIELDS))
    op = draw(st.sampled_from(["=", "!=", ">", ">=", "<", "<="]))
    count = draw(st.integers(1, 4)) if op in ("=", "!=") else 1
    return Condition(field, op, tuple(draw(st.lists(NUMBERS, min_size=count, max_size=count))))


def spell(value: str | float) -> str:
    return value if isinstance(value, str) else repr(value)


def print_condition(condition: Condition, pad: str) -> str:
    values = f"{pad}|{pad}".join(spell(value) for value in condition.values)
    return f"{pad}{condition.field}{pad}{condition.op}{pad}{values}{pad}"


def print_brackets(items: Sequence[Condition], pad: str) -> str:
    return pad + pad.join(f"[{print_condition(item, pad)}]" for item in items) + pad


def print_list(items: Sequence[Condition], pad: str) -> str:
    return ",".join(print_condition(item, pad) for item in items)


def tree(items: Sequence[Node], combine: Callable[[tuple[Node, ...]], Node]) -> Node:
    return items[0] if len(items) == 1 else combine(tuple(items))


@given(st.lists(conditions(), min_size=1, max_size=6), PADS, st.sampled_from([print_brackets, print_list]))
def test_filters_round_trip(
    items: list[Condition], pad: str, printer: Callable[[Sequence[Condition], str], str]
) -> None:
    assert parse_filter(printer(items, pad), FIELDS) == tree(items, And)


@given(st.sampled_from(STRING_FIELDS), st.sampled_from(["=", "!="]), STRING_VALUES)
def test_legacy_single_condition_round_trips(field: str, op: Operator, value: str) -> None:
    assert parse_filter(f"{field}{op}{value}", FIELDS) == Condition(field, op, (value,))


@st.composite
def comparisons(draw: st.DrawFn) -> Condition:
    op: Operator = draw(st.sampled_from(["=", "!=", ">", ">=", "<", "<="]))
    return Condition(draw(st.sampled_from(sorted(METRICS))), op, (draw(NUMBERS),))


def print_comparison(condition: Condition, pad: str) -> str:
    return f"{condition.field}{pad}{condition.op}{pad}{spell(condition.values[0])}"


@given(
    st.lists(st.lists(comparisons(), min_size=1, max_size=4), min_size=1, max_size=4),
    PADS,
    st.sampled_from([" AND ", " and ", "\tAnd  ", ",", " , "]),
    st.sampled_from([" OR ", " or ", "  oR\t"]),
)
def test_qoefilters_round_trip(groups: list[list[Condition]], pad: str, conjunction: str, disjunction: str) -> None:
    text = disjunction.join(conjunction.join(print_comparison(item, pad) for item in group) for group in groups)
    expected = tree([tree(group, And) for group in groups], Or)
    assert parse_qoefilter(text, METRICS) == expected
