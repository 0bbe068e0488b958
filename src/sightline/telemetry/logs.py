"""Log lines, as text or as one JSON object a line, that carry the request they were written for.

Invariant: every line logged while a request is handled (on the event loop or on a worker thread it started)
names its id, its route template and, once known, its customer (`telemetry.context`). JSON lines hold `time`
(ISO 8601, UTC), `level`, `logger`, `message`, then those of `request_id`, `route`, `status`, `duration_ms`,
`customer_id` and `error` (a traceback) that apply.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

from sightline.telemetry.context import current_request

LogFormat = Literal["text", "json"]
FIELDS = ("request_id", "route", "status", "duration_ms", "customer_id")
"""What a line says of its request, from the `RequestContext` or the line's own `extra`."""


def _request_fields(record: logging.LogRecord) -> dict[str, object]:
    fields: dict[str, object] = {}
    context = current_request.get()
    if context is not None:
        fields = {"request_id": context.request_id, "route": context.route(), "customer_id": context.customer_id()}
    for name in FIELDS:
        if name in record.__dict__:
            fields[name] = record.__dict__[name]
    return {name: value for name, value in fields.items() if value is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object a line (module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_request_fields(record),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message [request_id=… route=…]`, for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{name}={value}" for name, value in _request_fields(record).items())
        text = f"{record.levelname} {record.name}: {record.getMessage()}" + (f" [{fields}]" if fields else "")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    """Send the root logger's lines (every logger's that propagates) to stderr in `log_format`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
