"""CMCD data sets → records: the specification's receiver rules, and totality over random records."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sightline.ingest.cmcd import (
    MAX_RECORDS,
    CmcdError,
    UnsupportedVersionError,
    parse_event_report,
    parse_record,
    parse_request_data,
)

TS = 1_780_000_000_000


def test_an_event_record_is_read_with_its_dimensions() -> None:
    record = parse_record(
        f'e=ps,sta=p,sid="s-1",cid="got-s01e01",sf=h,st=v,cdn="akamai",h="cdn.example",ts={TS},sn=4,'
        "br=(4500;v 128;a),msd=812,dfa=3,ltc=2500,v=2"
    )
    assert (record.event, record.state, record.sid, record.ts, record.sn, record.version) == (
        "ps",
        "p",
        "s-1",
        TS,
        4,
        2,
    )
    assert (record.bitrate_kbps, record.msd, record.dropped_frames_total, record.live_latency_ms) == (
        4500,
        812,
        3,
        2500,
    )
    assert record.dimensions == {
        "sdkversion": "CMCD v2",
        "assetid": "got-s01e01",
        "streamformat": "hls",
        "streamtype": "vod",
        "cdn": "akamai",
        "host": "cdn.example",
    }


@pytest.mark.parametrize(
    ("text", "bitrate"),
    [
        ("br=3000", 3000),  # v1: an integer
        ("br=(3000)", 3000),  # v2: an inner list
        ("br=(128;a 3000;v)", 3000),  # the video item is the one shown
        ("pb=(2000),br=(3000)", 2000),  # the playhead bitrate wins over the requested one
        ("br=(2999.6)", 3000),
        ('br="fast"', None),  # a bad descriptive value is ignored
        ("br=?1", None),
    ],
)
def test_the_bitrate_is_the_one_shown(text: str, bitrate: int | None) -> None:
    assert parse_record(f'sid="s",{text}').bitrate_kbps == bitrate


def test_unknown_keys_and_custom_keys_are_ignored_but_ours_are_read() -> None:
    record = parse_record('sid="s",zz=1,com.example-myNumericKey=500,sl-viewerid="v-9",sl-season=2,sl-country="USA"')
    assert record.dimensions == {"sdkversion": "CMCD v1", "viewerid": "v-9", "season": 2}


def test_v_is_1_when_absent_and_a_higher_version_is_dropped() -> None:
    assert parse_record('sid="s"').version == 1
    assert parse_record('sid="s",v=2').version == 2
    with pytest.raises(UnsupportedVersionError) as raised:
        parse_record('sid="s",v=3,whatever="new"')
    assert raised.value.version == 3


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('sid="s",v=0', "v"),
        ('sid="s",v="2"', "v"),
        ("sid=s", "sid"),
        (f'sid="{"x" * 129}"', "sid"),
        ('sid="s",sta=z', "sta"),
        ('sid="s",sta="p"', "sta"),
        ('sid="s",e="ps"', "e"),
        ('sid="s",ts=12', "ts"),
        ('sid="s",ts=1.5', "ts"),
        ('sid="s",sn=-1', "sn"),
        ('sid="s",msd=-5', "msd"),
    ],
)
def test_keys_that_place_a_record_are_strict(text: str, key: str) -> None:
    with pytest.raises(CmcdError) as raised:
        parse_record(text)
    assert raised.value.key == key


def test_an_event_report_keeps_good_lines_and_names_the_bad_ones() -> None:
    body = (
        f'e=ps,sta=s,sid="a",ts={TS},v=2\r\n'
        "\n"
        f'e=ps,sid="a",ts={TS},v=2\n'  # ps without sta
        f'e=t,sid="a",v=2\n'  # no ts
        f'e=ps,sta=p,sid="a",ts={TS + 900},v=3\n'  # a later version: dropped
        "not cmcd at all\n"
        f'e=ps,sta=p,sid="a",ts={TS + 900},v=2\n'
    )
    report = parse_event_report(body)
    assert [index for index, _ in report.records] == [0, 5]  # numbered among the non-blank lines
    assert [(refusal.index, refusal.code) for refusal in report.refused] == [
        (1, "invalid"),
        (2, "invalid"),
        (4, "invalid"),
    ]
    assert "sta" in report.refused[0].reason
    assert "ts" in report.refused[1].reason
    assert report.unsupported == 1


def test_a_report_has_a_size_limit() -> None:
    with pytest.raises(CmcdError):
        parse_event_report(f'e=t,sid="a",ts={TS}\n' * (MAX_RECORDS + 1))


def test_request_data_comes_from_the_query_or_the_header_shards() -> None:
    headers = {
        "cmcd-object": "br=3200,d=4004,ot=v",
        "cmcd-request": "bl=21300,su",
        "cmcd-session": 'cid="faec5fc2",sf=d,sid="6e2fb550",st=l',
        "cmcd-status": "bs",
    }
    record = parse_request_data(None, headers)
    assert record is not None
    assert (record.sid, record.bitrate_kbps, record.startup, record.starvation) == ("6e2fb550", 3200, True, True)
    assert record.dimensions["streamtype"] == "live"
    assert parse_request_data('sid="q",br=100', headers) == parse_record('sid="q",br=100')
    assert parse_request_data(None, {}) is None
    with pytest.raises(CmcdError):
        parse_request_data(None, {"cmcd-session": "sid=("})


_KEYS = ["e", "sta", "sid", "ts", "sn", "v", "cid", "br", "pb", "msd", "ec", "su", "bs", "sf", "st", "dfa", "ltc"]
_KEYS += ["sl-viewerid", "sl-season", "x", "com.example-k"]
_VALUES = st.one_of(
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1).map(str),
    st.sampled_from(["p", "s", "e", "ps", "t", "rr", "h", "zz", "?0", "?1", "()", "(1 2)", "(3;v 4;a)", '("x" "y")']),
    st.sampled_from([str(TS), str(TS + 1), "1.5", "0", "3", "2", ":aGk=:"]),
    st.text(alphabet='abc "\\-_.', max_size=20).map(lambda s: '"' + s.replace("\\", "").replace('"', "") + '"'),
)


@st.composite
def _records(draw: st.DrawFn) -> str:
    keys = draw(st.lists(st.sampled_from(_KEYS), max_size=12))
    members = [key if draw(st.booleans()) and key in ("su", "bs") else f"{key}={draw(_VALUES)}" for key in keys]
    return ",".join(members)


@given(st.lists(_records(), min_size=1, max_size=8))
def test_random_reports_never_raise_anything_but_the_typed_error(lines: list[str]) -> None:
    report = parse_event_report("\n".join(lines))
    assert len(report.records) + len(report.refused) + report.unsupported == sum(1 for line in lines if line.strip())
    for _, record in report.records:
        assert record.event
        assert record.ts
        assert record.sid
        assert record.version in (1, 2)


@given(st.text(max_size=300))
def test_any_text_is_a_report_or_the_typed_error(text: str) -> None:
    with contextlib.suppress(CmcdError):
        parse_event_report(text)
