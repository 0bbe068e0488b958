"""What a notice says to each kind of recipient (pure): the webhook's JSON and its signature, Slack's
incoming-webhook payload, and the e-mail (plain text and HTML). docs/alerts.md shows each.

Invariants: the same notice gives the same bytes (a retry sends what the first attempt sent; only the
signature's timestamp moves); a recipient's secret is never part of a message; Slack's limits (a header of
150 characters, a section of 3,000) hold for any title.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sightline.alerts.notify import Notice

SIGNATURE_HEADER = "Sightline-Signature"
"""`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as Stripe signs its webhooks."""
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "Sightline-Event"
_DONE = {"open": "opened", "escalate": "escalated", "widen": "widened", "resolve": "resolved"}


def event_name(notice: Notice) -> str:
    """`alert.opened`, `alert.escalated`, `alert.widened` or `alert.resolved`."""
    return f"alert.{_DONE[notice.transition]}"


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")).encode()


def webhook_body(notice: Notice, created: datetime) -> bytes:
    """The JSON a webhook receives: the event, the notice's fields and the whole alert."""
    return _json(
        {
            "event": event_name(notice),
            "notice": notice.key,
            "created": int(created.timestamp()),
            "customerid": notice.customer_id,
            "alertid": notice.alert_id,
            "ruleid": notice.rule_id,
            "transition": notice.transition,
            "severity": notice.severity,
            "title": notice.title,
            "alert": notice.alert,
        }
    )


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256, keyed by `secret`, of `<timestamp>.<body>`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of `Sightline-Signature`."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def _headline(notice: Notice) -> str:
    return f"[{notice.severity.upper()}] Alert {_DONE[notice.transition]}: {notice.title}"


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _mrkdwn(text: str) -> str:
    """`text` as Slack's mrkdwn shows it literally (its three control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _facts(notice: Notice) -> list[tuple[str, str]]:
    """The notice's facts as (label, value), then the alert's own scalar fields (its series and diagnosis are
    in the webhook's JSON)."""
    facts = [
        ("Severity", notice.severity),
        ("Transition", notice.transition),
        ("Rule", notice.rule_id),
        ("Alert", notice.alert_id),
        ("Customer", str(notice.customer_id)),
    ]
    scalars = (str, int, float, bool)
    return facts + [(k, str(v)) for k, v in notice.alert.items() if isinstance(v, scalars)]


def slack_payload(notice: Notice) -> bytes:
    """An incoming-webhook message: `text` (the notification's line) and `blocks` (header, facts, context)."""
    fields = [{"type": "mrkdwn", "text": _clip(f"*{k}*\n{_mrkdwn(v)}", 2000)} for k, v in _facts(notice)]
    context = f"Sightline · {event_name(notice)} · notice {notice.key}"
    payload = {
        "text": _clip(_mrkdwn(_headline(notice)), 3000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(_headline(notice), 150), "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(_mrkdwn(notice.title), 3000)}},
            {"type": "section", "fields": fields[:10]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(_mrkdwn(context), 3000)}]},
        ],
    }
    return _json(payload)


def email_message(notice: Notice, sender: str, to: str, key: str, sent: datetime) -> EmailMessage:
    """The e-mail: plain text and HTML alternatives; its Message-ID is the delivery's idempotency key, so that
    a resent e-mail is the same message to mail clients."""
    message = EmailMessage()
    message["Subject"] = _clip(_headline(notice), 200)
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(sent)
    message["Message-ID"] = f"<{key}@{sender.rpartition('@')[2] or 'sightline'}>"
    message["Idempotency-Key"] = key
    facts = _facts(notice)
    text = "\n".join([notice.title, "", *(f"{label}: {value}" for label, value in facts), "", f"Notice {notice.key}"])
    rows = "".join(f"<tr><th align=left>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    body = (
        f"<html><body><h2>{html.escape(_headline(notice))}</h2><p>{html.escape(notice.title)}</p>"
        f"<table>{rows}</table><p><small>Notice {html.escape(notice.key)}</small></p></body></html>"
    )
    message.set_content(text)
    message.add_alternative(body, subtype="html")
    return message
