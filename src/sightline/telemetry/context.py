"""The request being handled, for whatever runs on its behalf: its id, route and customer in log lines
(`telemetry.logs`), the time its queries spend on the store (`observe_query`).

Invariant: `current_request` is set for the whole of a request's handling (`api.observe`), on the event loop and
on the worker threads it starts (they run in a copy of its context); elsewhere (background work) it is None.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""A request id taken from the client as it is: a UUID, a trace id, a hex or dotted token."""


@dataclass(slots=True)
class RequestContext:
    """The request being handled: its id, and how to read its route template and its customer (known once it
    is routed, when the route names one)."""

    request_id: str
    route: Callable[[], str | None]
    customer_id: Callable[[], int | None]
    on_query: Callable[[Sequence[str], float], None]
    """Count `seconds` spent on the store reading the tables named."""


current_request: ContextVar[RequestContext | None] = ContextVar("sightline_request", default=None)


def request_id_from(header: str | None) -> str:
    """The client's request id when it is sane, else a new one (32 hex digits)."""
    if header is not None and REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    context = current_request.get()
    return None if context is None else context.request_id


def observe_query(tables: Sequence[str], seconds: float) -> None:
    """A query of the current request read `tables` on the store in `seconds` (nothing outside a request)."""
    context = current_request.get()
    if context is not None:
        context.on_query(tables, seconds)
