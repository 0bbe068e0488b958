"""Parsing of Structured Field dictionaries (RFC 8941 §4.2), the syntax of CMCD data.

A CMCD data set — one line of an event report, the value of `?CMCD=`, or a `CMCD-*` header — is a
dictionary: `key=value` members separated by commas, where a value is an item (integer, decimal,
string, token, byte sequence or boolean, with optional `;parameters`) or an inner list of items in
parentheses; a key alone is the boolean true. The parser is pure and total: for any input it either
returns the dictionary or raises `StructuredFieldError` saying where the syntax broke.

One leniency over the RFC: keys may contain upper-case letters after their first character, because
CMCD's own example of a custom key (`com.example-myNumericKey`) does; such keys are never ours.
"""

from __future__ import annotations

import base64
import binascii
import string
from dataclasses import dataclass

MAX_INPUT = 16 * 1024
_KEY_FIRST = frozenset(string.ascii_lowercase + "*")
_KEY_REST = frozenset(string.ascii_letters + string.digits + "_-.*")
_TOKEN_FIRST = frozenset(string.ascii_letters + "*")
_TOKEN_REST = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/")
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/=")
_DIGITS = frozenset(string.digits)


class StructuredFieldError(ValueError):
    """The text is not a structured field dictionary; the message says where and why."""


class Token(str):
    """A bare token (`sta=p`), as opposed to a quoted string (`sid="p"`)."""

    __slots__ = ()


BareItem = int | float | str | bytes | bool
Parameters = dict[str, BareItem]


@dataclass(frozen=True, slots=True)
class Item:
    value: BareItem
    params: Parameters


@dataclass(frozen=True, slots=True)
class InnerList:
    items: tuple[Item, ...]
    params: Parameters


Member = Item | InnerList


def parse_dictionary(text: str) -> dict[str, Member]:
    """The members of the dictionary `text`, in order; a repeated key keeps its last value (RFC 8941)."""
    if len(text) > MAX_INPUT:
        raise StructuredFieldError(f"longer than {MAX_INPUT} characters")
    return _Parser(text).dictionary()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def _fail(self, what: str) -> StructuredFieldError:
        return StructuredFieldError(f"{what} at character {self.at + 1}")

    def _peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def _skip(self, chars: str) -> None:
        while self._peek() and self._peek() in chars:
            self.at += 1

    def dictionary(self) -> dict[str, Member]:
        members: dict[str, Member] = {}
        self._skip(" ")
        while self.at < len(self.text):
            key = self._key()
            if self._peek() == "=":
                self.at += 1
                members[key] = self._inner_list() if self._peek() == "(" else self._item()
            else:
                members[key] = Item(True, self._parameters())
            self._skip(" \t")
            if self.at == len(self.text):
                break
            if self._peek() != ",":
                raise self._fail("expected ',' between members")
            self.at += 1
            self._skip(" \t")
            if self.at == len(self.text):
                raise self._fail("trailing ','")
        return members

    def _key(self) -> str:
        start = self.at
        if self._peek() not in _KEY_FIRST:
            raise self._fail("a key must start with a lower-case letter or '*'")
        self.at += 1
        while self._peek() and self._peek() in _KEY_REST:
            self.at += 1
        return self.text[start : self.at]

    def _inner_list(self) -> InnerList:
        self.at += 1  # "("
        items: list[Item] = []
        while True:
            self._skip(" ")
            if self._peek() == ")":
                self.at += 1
                return InnerList(tuple(items), self._parameters())
            if not self._peek():
                raise self._fail("unterminated inner list")
            items.append(self._item())
            if self._peek() not in (" ", ")"):
                raise self._fail("expected ' ' or ')' in an inner list")

    def _item(self) -> Item:
        return Item(self._bare_item(), self._parameters())

    def _parameters(self) -> Parameters:
        params: Parameters = {}
        while self._peek() == ";":
            self.at += 1
            self._skip(" ")
            key = self._key()
            value: BareItem = True
            if self._peek() == "=":
                self.at += 1
                value = self._bare_item()
            params[key] = value
        return params

    def _bare_item(self) -> BareItem:
        char = self._peek()
        if char == "-" or (char and char in _DIGITS):
            return self._number()
        if char == '"':
            return self._string()
        if char and char in _TOKEN_FIRST:
            return self._token()
        if char == ":":
            return self._bytes()
        if char == "?":
            return self._boolean()
        raise self._fail("expected a value")

    def _number(self) -> int | float:
        start = self.at
        if self._peek() == "-":
            self.at += 1
        digits_start = self.at
        while self._peek() and self._peek() in _DIGITS:
            self.at += 1
        integer = self.text[digits_start : self.at]
        if not integer:
            raise self._fail("expected a digit")
        if self._peek() != ".":
            if len(integer) > 15:
                raise self._fail("an integer has at most 15 digits")
            return int(self.text[start : self.at])
        if len(integer) > 12:
            raise self._fail("a decimal has at most 12 integer digits")
        self.at += 1
        fraction_start = self.at
        while self._peek() and self._peek() in _DIGITS:
            self.at += 1
        if not 1 <= self.at - fraction_start <= 3:
            raise self._fail("a decimal has 1 to 3 fractional digits")
        return float(self.text[start : self.at])

    def _string(self) -> str:
        self.at += 1  # opening quote
        chars: list[str] = []
        while True:
            char = self._peek()
            if not char:
                raise self._fail("unterminated string")
            self.at += 1
            if char == '"':
                return "".join(chars)
            if char == "\\":
                escaped = self._peek()
                if escaped not in ('"', "\\"):
                    raise self._fail('only \\" and \\\\ may be escaped in a string')
                self.at += 1
                chars.append(escaped)
            elif " " <= char <= "~":
                chars.append(char)
            else:
                raise self._fail("a string holds printable ASCII only")

    def _token(self) -> Token:
        start = self.at
        self.at += 1
        while self._peek() and self._peek() in _TOKEN_REST:
            self.at += 1
        return Token(self.text[start : self.at])

    def _bytes(self) -> bytes:
        self.at += 1
        start = self.at
        while self._peek() and self._peek() in _BASE64:
            self.at += 1
        if self._peek() != ":":
            raise self._fail("unterminated byte sequence")
        encoded = self.text[start : self.at]
        self.at += 1
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise self._fail("a byte sequence must be base64") from None

    def _boolean(self) -> bool:
        self.at += 1
        char = self._peek()
        if char not in ("0", "1"):
            raise self._fail("a boolean is ?0 or ?1")
        self.at += 1
        return char == "1"
