"""Vectorised column helpers: dictionary-coded strings, random hex ids and UUIDv7 view ids.

Invariant: nothing here loops in Python over rows; strings are built once per dictionary entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class Coded:
    """A string column as codes into `values` (an Arrow string array without duplicates)."""

    values: pa.Array
    codes: NDArray[np.int32]

    def take(self, rows: NDArray[np.int64] | NDArray[np.int32]) -> Coded:
        return Coded(self.values, self.codes[rows])

    def arrow(self) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(self.codes, pa.int32()), self.values)

    def strings(self) -> NDArray[np.object_]:
        return np.asarray(self.values.to_numpy(zero_copy_only=False), dtype=object)[self.codes]


def dictionary(values: list[str] | tuple[str, ...]) -> tuple[pa.Array, NDArray[np.int32]]:
    """Deduplicate `values`: (unique strings in first-seen order, code of each input entry)."""
    seen: dict[str, int] = {}
    codes = np.array([seen.setdefault(v, len(seen)) for v in values], dtype=np.int32)
    return pa.array(list(seen), pa.string()), codes


def hex_words(words: NDArray[np.uint64]) -> NDArray[np.uint8]:
    """Lower-case hex digits of 64-bit words, shape (n, 16), as ASCII bytes."""
    nibbles = (words[:, None] >> _SHIFTS[None, :]) & np.uint64(0xF)
    return _HEX[nibbles.astype(np.intp)]


def ascii_rows(chars: NDArray[np.uint8]) -> pa.Array:
    """An Arrow string array whose i-th value is the ASCII bytes of row i of `chars` (n, width)."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def hex_ids(rng: np.random.Generator, n: int, prefix: str) -> pa.Array:
    """`n` random ids `<prefix><16 hex digits>`."""
    words = rng.integers(0, 2**64, n, dtype=np.uint64)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    return ascii_rows(np.hstack([np.broadcast_to(head, (n, head.size)), hex_words(words)]))


@dataclass(frozen=True, slots=True)
class ViewIds:
    """UUIDv7 ids as two 64-bit halves: `high` holds the start ms (48 bits), version 7 and 12 random
    bits; `low` holds the variant bits 10 and 62 random bits."""

    high: NDArray[np.uint64]
    low: NDArray[np.uint64]

    def bytes16(self) -> NDArray[np.uint8]:
        """Big-endian bytes, shape (n, 16)."""
        pair = np.empty((self.high.size, 2), dtype=">u8")
        pair[:, 0] = self.high
        pair[:, 1] = self.low
        return pair.view(np.uint8).reshape(-1, 16)

    def strings(self) -> pa.Array:
        """Canonical 8-4-4-4-12 lower-case strings."""
        digits = np.hstack([hex_words(self.high), hex_words(self.low)])
        dash = np.full((digits.shape[0], 1), ord("-"), dtype=np.uint8)
        return ascii_rows(
            np.hstack(
                [
                    digits[:, :8],
                    dash,
                    digits[:, 8:12],
                    dash,
                    digits[:, 12:16],
                    dash,
                    digits[:, 16:20],
                    dash,
                    digits[:, 20:],
                ]
            )
        )


def uuid7(start_ms: NDArray[np.int64], rng: np.random.Generator) -> ViewIds:
    """UUIDv7 ids whose timestamp is `start_ms`, with random bits from `rng`."""
    rand_a = rng.integers(0, 1 << 12, start_ms.size, dtype=np.uint64)
    rand_b = rng.integers(0, 1 << 62, start_ms.size, dtype=np.uint64)
    high = (start_ms.astype(np.uint64) << np.uint64(16)) | np.uint64(0x7000) | rand_a
    low = np.uint64(0x8000_0000_0000_0000) | rand_b
    return ViewIds(high, low)


def fixed16(rows: NDArray[np.uint8]) -> pa.Array:
    """A fixed_size_binary(16) array of the rows of `rows` (n, 16)."""
    data = pa.py_buffer(np.ascontiguousarray(rows).tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), rows.shape[0], [None, data])
