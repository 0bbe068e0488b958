"""mux-embed's shortened keys expand back to their long names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sightline.ingest.mux_keys import FIRST_WORDS, WORDS, expand_key

FIRST_CODES = {word: code for code, word in FIRST_WORDS.items()}
CODES = {word: code for code, word in WORDS.items()}


def shorten(name: str) -> str:
    """mux-embed's shortening, written from its description (an oracle for the expansion): the first word's
    one-letter code (or the word and `_`), each further word's two-letter code, a number as it is, an
    unknown word between underscores."""
    first, *rest = name.split("_")
    key = FIRST_CODES.get(first, first + "_")
    for word in rest:
        key += CODES[word] if word in CODES else word if word.isdigit() else f"_{word}_"
    return key


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("xsqno", "view_sequence_number"),
        ("xtitofifr", "view_time_to_first_frame"),
        ("xctpbti", "view_content_playback_time"),
        ("dpntimscv", "ad_playing_time_ms_cumulative"),
        ("uti", "viewer_time"),
        ("ake", "env_key"),
        ("c1", "custom_1"),
        ("c10", "custom_10"),
        ("persy", "player_error_severity"),
        ("upz", "viewer_plan"),
        ("mvrid", "mux_viewer_id"),
        ("qbyld", "request_bytes_loaded"),
        ("x_foo_", "view_foo"),
        ("myfield_id", "myfield_id"),
        ("e", "event"),
    ],
)
def test_keys_recorded_from_mux_embed_expand_to_their_names(short: str, long: str) -> None:
    assert expand_key(short) == long


@pytest.mark.parametrize("key", ["", "zz", "x!", "xqq", "_", "1", "é"])
def test_a_key_that_does_not_decode_stays_as_it_is(key: str) -> None:
    assert expand_key(key) == key


unknown_words = st.from_regex(r"[a-z]{3,9}", fullmatch=True).filter(lambda w: w not in CODES)
names = st.builds(
    lambda first, rest, number: "_".join([first, *rest, *number]),
    st.sampled_from(sorted(FIRST_CODES)),
    st.lists(st.sampled_from(sorted(CODES)) | unknown_words, max_size=5),
    st.lists(st.integers(1, 99).map(str), max_size=1),
)


@given(names)
def test_expanding_inverts_shortening(name: str) -> None:
    assert expand_key(shorten(name)) == name


@given(st.text(max_size=40))
def test_any_key_expands_without_error(key: str) -> None:
    assert isinstance(expand_key(key), str)
