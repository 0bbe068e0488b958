"""The native beacon format (`NativeFormat`): decoding and validating a batch as the collector receives it.

A batch is refused whole (`CollectError`) when its body, envelope, view id or dimensions are bad (the
dimensions are the view's, shared by every event: an object, or absent or null for none); an event that
fails validation is refused alone, with its index and the reason, and the others are kept.
Bodies are limited before and after decompression (gzip, or deflate: `Content-Encoding`), so a small
compressed body cannot expand without bound. The format keeps no state of its own: a batch names its view,
and the sessionizer's view state (`ingest.sessions`) is all its events need.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sightline.ingest.format import CollectError, Decoded, IngestFormat, Message, Refusal, Step, ViewBatch
from sightline.ingest.native import BATCH, EVENT, MAX_EVENTS, VIEW_DIMENSIONS, dimensions_of

MAX_BODY_BYTES = 1024 * 1024
MAX_DECODED_BYTES = 8 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ENCODINGS = ("", "identity", "gzip", "x-gzip", "deflate")
_JSON_KINDS: dict[type, str] = {
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    view_id: bytes
    dimensions: dict[str, Any]
    events: list[tuple[int, dict[str, Any]]]
    refused: list[Refusal]


def _encoding(body: bytes, content_encoding: str | None) -> str | None:
    """The compression of `body`: gzip when declared or when it starts with gzip's magic bytes, deflate when
    declared, else None; 415 for another declared encoding (br, zstd, several)."""
    declared = (content_encoding or "").strip().lower()
    if declared not in _ENCODINGS:
        message = f"Content-Encoding must be one of {', '.join(e for e in _ENCODINGS if e)}"
        raise CollectError(415, "unsupported_encoding", message, "Content-Encoding")
    if declared in ("gzip", "x-gzip") or body.startswith(_GZIP_MAGIC):
        return "gzip"
    return "deflate" if declared == "deflate" else None


def _window_bits(body: bytes, encoding: str) -> int:
    """zlib's `wbits` for `body`: gzip's container; for deflate, zlib's (RFC 1950, as RFC 9110 says) when the
    body opens with a zlib header (method deflate, a window of at most 32 KiB, the header's check bits), else
    none: raw deflate (RFC 1951), as some clients send it, which practically never opens like that."""
    if encoding == "gzip":
        return 16 + zlib.MAX_WBITS
    wrapped = len(body) >= 2 and body[0] & 0x0F == 8 and body[0] >> 4 <= 7 and (body[0] << 8 | body[1]) % 31 == 0
    return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS


def _inflate(body: bytes, encoding: str) -> bytes:
    """`body` decompressed (`_window_bits`), at most `MAX_DECODED_BYTES`; a body that is truncated, corrupt
    or followed by other bytes is a 400."""
    code = f"bad_{encoding}"
    try:
        inflater = zlib.decompressobj(_window_bits(body, encoding))
        inflated = inflater.decompress(body, MAX_DECODED_BYTES + 1)
    except zlib.error as error:
        raise CollectError(400, code, f"the {encoding} body cannot be read: {error}") from error
    if len(inflated) > MAX_DECODED_BYTES or inflater.unconsumed_tail:
        raise CollectError(413, "body_too_large", f"the body inflates past {MAX_DECODED_BYTES} bytes")
    if not inflater.eof:
        raise CollectError(400, code, f"the {encoding} body is truncated")
    if inflater.unused_data:
        raise CollectError(400, code, f"the {encoding} body has bytes after its end")
    return inflated


def inflate_body(body: bytes, content_encoding: str | None) -> bytes:
    """`body`, decompressed when it is gzip or deflate (`_encoding`)."""
    if len(body) > MAX_BODY_BYTES:
        raise CollectError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    encoding = _encoding(body, content_encoding)
    return body if encoding is None else _inflate(body, encoding)


def is_compressed(body: bytes, content_encoding: str | None) -> bool:
    """Whether `inflate_body` decompresses `body` (415 for a declared encoding it does not read)."""
    return _encoding(body, content_encoding) is not None


def decode_json(raw: bytes) -> Any:
    """The JSON of a (decompressed) body; 400 `bad_json` when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError as error:  # not UTF-8, not JSON, or an integer past Python's 4300 digits
        raise CollectError(400, "bad_json", f"the body is not JSON: {error}") from error
    except RecursionError:
        raise CollectError(400, "bad_json", "the body's JSON is nested too deeply") from None


def _reason(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def parse_batch(raw: bytes) -> ParsedBatch:
    """Validate a batch's JSON (decompressed): envelope, view id and dimensions whole; each event on its own.
    A valid batch, the usual case, is validated from its bytes in one call; any other is decoded and validated
    part by part, to name what is wrong and to keep the valid events of a batch with invalid ones."""
    try:
        batch = BATCH.validate_json(raw)
    except ValidationError:
        return parse_decoded(decode_json(raw))
    return ParsedBatch(batch["view_id"].bytes, dimensions_of(batch), list(enumerate(batch["events"])), [])


def parse_decoded(payload: Any) -> ParsedBatch:
    """`parse_batch` for a decoded body, part by part."""
    if not isinstance(payload, dict):
        raise CollectError(400, "bad_batch", "the body must be a JSON object with view_id, dimensions and events")
    unknown = sorted(set(payload) - {"view_id", "dimensions", "events"})
    if unknown:
        raise CollectError(400, "bad_batch", f"unknown keys {unknown}; allowed: view_id, dimensions, events")
    try:
        view_id = uuid.UUID(str(payload.get("view_id")))
    except ValueError:
        raise CollectError(400, "bad_view_id", "view_id must be a UUID", "view_id") from None
    if view_id.version != 7:
        raise CollectError(400, "bad_view_id", "view_id must be a UUIDv7 (its time is the view's start)", "view_id")
    given = payload.get("dimensions")
    if given is not None and not isinstance(given, dict):
        kind = _JSON_KINDS.get(type(given), type(given).__name__)
        raise CollectError(400, "bad_dimensions", f"dimensions must be a JSON object, not {kind}", "dimensions")
    try:
        dimensions = VIEW_DIMENSIONS.validate_python(given or {})
    except ValidationError as error:
        raise CollectError(400, "bad_dimensions", f"dimensions.{_reason(error)}", "dimensions") from None
    events = payload.get("events")
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
        raise CollectError(400, "bad_events", f"events must be a list of 1 to {MAX_EVENTS} events", "events")
    return ParsedBatch(view_id.bytes, dimensions, *_event_by_event(events))


def _event_by_event(events: list[Any]) -> tuple[list[tuple[int, dict[str, Any]]], list[Refusal]]:
    """The valid events by index, and the reason each invalid one is refused."""
    kept, refused = [], []
    for index, raw in enumerate(events):
        try:
            kept.append((index, EVENT.validate_python(raw)))
        except ValidationError as error:
            refused.append(Refusal(index, "invalid", _reason(error)))
    return kept, refused


class NativeFormat(IngestFormat[ParsedBatch, None]):
    """Native batches (`POST /collect`): a request is one view's batch."""

    name = "native"
    keeps_state = False

    def decode(self, message: Message) -> Decoded[ParsedBatch]:
        batch = parse_batch(message.body)
        return Decoded({batch.view_id.hex(): [batch]}, batch.refused)

    def advance(
        self, state: None, customer_id: int, session: str, units: Sequence[ParsedBatch], now_ms: int
    ) -> Step[None]:
        return Step(None, [ViewBatch(batch.view_id, batch.dimensions, batch.events) for batch in units])
