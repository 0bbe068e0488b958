"""mux-embed's shortened beacon keys, and their expansion back to the long names.

mux-embed (npm package `mux-embed`, MIT License, Copyright (c) 2022 Mux, Inc.; read at version 5.19.0)
shortens every key of a beacon before sending it: the key's first word (`view` in `view_sequence_number`)
becomes one letter, each further word two letters, a number stays as it is (`custom_1` → `c1`), and a
word it has no code for is written out between underscores (`_word_`; an unknown first word as `word_`).
So `xsqno` is `view_sequence_number` and `xtitofifr` is `view_time_to_first_frame`. The two tables below
are that package's published dictionary, as data; `expand_key` inverts the shortening.
"""

from __future__ import annotations

import re
from functools import lru_cache

FIRST_WORDS: dict[str, str] = {
    "a": "env", "b": "beacon", "c": "custom", "d": "ad", "e": "event", "f": "experiment", "i": "internal",
    "m": "mux", "n": "response", "p": "player", "q": "request", "r": "retry", "s": "session", "t": "timestamp",
    "u": "viewer", "v": "video", "w": "page", "x": "view", "y": "sub",
}  # fmt: skip
"""The code of a key's first word (one letter) → the word."""

WORDS: dict[str, str] = {
    "ad": "ad", "af": "affiliate", "ag": "aggregate", "ap": "api", "al": "application", "ao": "audio",
    "ar": "architecture", "as": "asset", "au": "autoplay", "av": "average", "bi": "bitrate", "bn": "brand",
    "br": "break", "bw": "browser", "by": "bytes", "bz": "business", "ca": "cached", "cb": "cancel", "cc": "codec",
    "cd": "code", "cg": "category", "ch": "changed", "ci": "client", "cj": "channels", "ck": "clicked",
    "cl": "canceled", "cm": "cmcd", "cn": "config", "co": "count", "ce": "counter", "cp": "complete",
    "cq": "creator", "cr": "creative", "cs": "captions", "ct": "content", "cu": "current", "cv": "cumulative",
    "cx": "connection", "cz": "context", "da": "data", "dg": "downscaling", "dm": "domain", "dn": "cdn",
    "do": "downscale", "dr": "drm", "dp": "dropped", "du": "duration", "dv": "device", "dy": "dynamic",
    "eb": "enabled", "ec": "encoding", "ed": "edge", "en": "end", "eg": "engine", "em": "embed", "er": "error",
    "ep": "experiments", "es": "errorcode", "et": "errortext", "ee": "event", "ev": "events", "ex": "expires",
    "ez": "exception", "fa": "failed", "fi": "first", "fm": "family", "ft": "format", "fp": "fps", "fq": "frequency",
    "fr": "frame", "fs": "fullscreen", "ha": "has", "hb": "holdback", "he": "headers", "ho": "host",
    "hn": "hostname", "ht": "height", "id": "id", "ii": "init", "in": "instance", "ip": "ip", "is": "is",
    "ke": "key", "la": "language", "lb": "labeled", "le": "level", "li": "live", "ld": "loaded", "lo": "load",
    "lw": "low", "ls": "lists", "lt": "latency", "ma": "max", "md": "media", "me": "message", "mf": "manifest",
    "mi": "mime", "ml": "midroll", "mm": "min", "mn": "manufacturer", "mo": "model", "mp": "mode", "ms": "ms",
    "mx": "mux", "ne": "newest", "nm": "name", "no": "number", "on": "on", "or": "origin", "os": "os",
    "pa": "paused", "pb": "playback", "pd": "producer", "pe": "percentage", "pf": "played", "pg": "program",
    "ph": "playhead", "pi": "plugin", "pl": "preroll", "pn": "playing", "po": "poster", "pp": "pip", "pr": "preload",
    "ps": "position", "pt": "part", "pv": "previous", "py": "property", "px": "pop", "pz": "plan", "ra": "rate",
    "rd": "requested", "re": "rebuffer", "rf": "rendition", "rg": "range", "rm": "remote", "ro": "ratio",
    "rp": "response", "rq": "request", "rs": "requests", "sa": "sample", "sd": "skipped", "se": "session",
    "sh": "shift", "si": "sid", "sk": "seek", "sm": "stream", "so": "source", "sq": "sequence", "sr": "series",
    "ss": "status", "st": "start", "su": "startup", "sv": "server", "sw": "software", "sy": "severity", "ta": "tag",
    "tc": "tech", "te": "text", "tg": "target", "th": "throughput", "ti": "time", "tl": "total", "to": "to",
    "tr": "track", "tt": "title", "ty": "type", "ug": "upscaling", "un": "universal", "up": "upscale", "ur": "url",
    "us": "user", "va": "variant", "vd": "viewed", "vi": "video", "ve": "version", "vw": "view", "vr": "viewer",
    "wd": "width", "wa": "watch", "wt": "waiting",
}  # fmt: skip
"""The code of any further word (two letters) → the word."""

_TOKEN = re.compile(r"(\d+)|_([^_]+)_|([a-z]{2})")
_KEY_CACHE = 4096


def _expand_words(first: str, rest: str) -> str | None:
    words = [first]
    position = 0
    while position < len(rest):
        token = _TOKEN.match(rest, position)
        if token is None:
            return None
        number, literal, code = token.groups()
        if number is not None:
            words[-1] += f"_{number}"
        elif literal is not None:
            words.append(literal)
        elif code in WORDS:
            words.append(WORDS[code])
        else:
            return None
        position = token.end()
    return "_".join(words)


@lru_cache(maxsize=_KEY_CACHE)
def expand_key(key: str) -> str:
    """The long name of a shortened key (`xsqno` → `view_sequence_number`); a key that does not decode is
    returned as it is, so that it can only miss the names the decoder looks for, never take another's."""
    if key[:1] in FIRST_WORDS:
        expanded = _expand_words(FIRST_WORDS[key[0]], key[1:])
        if expanded is not None:
            return expanded
    head, underscore, rest = key.partition("_")
    if underscore and head:
        expanded = _expand_words(head, rest)
        if expanded is not None:
            return expanded
    return key
