"""One attempt at a delivery (IO): a webhook or a Slack message POSTed over HTTP, an e-mail over SMTP.

Outcomes: a 2xx (an SMTP server accepting the message) is delivered; a 4xx other than 408 and 429, a 3xx
(redirects are not followed: a signed body goes where the rule says, nowhere else) or an SMTP 5xx is
permanent; anything else (a 5xx, 408, 429, an SMTP 4xx, a network failure, a timeout) is retried.
Webhook and Slack URLs must reach public addresses unless `Settings.notify_private_targets` (a rule's
URL must not reach the service's own network). An outcome's error is in our words and never holds the
target's path or a secret; a receiver's answer is not read past its status.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime

import httpx

from sightline import __version__
from sightline.alerts.messages import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    email_message,
    event_name,
    signature_header,
    slack_payload,
    webhook_body,
)
from sightline.alerts.notify import Notice
from sightline.alerts.targets import parse_web_target
from sightline.settings import Settings


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery: its `attempt` (1 for the first) and all that its message is made of."""

    delivery_id: int
    attempt: int
    kind: str
    target: str
    secret: str | None
    idempotency_key: str
    notice: Notice
    created: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt came to: delivered, or not and then whether it is worth another attempt. `code` is the
    HTTP status or SMTP reply; `retry_after_s` what the receiver asked for (`Retry-After`)."""

    delivered: bool
    permanent: bool = False
    code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


def http_outcome(status: int, retry_after: str | None = None) -> Outcome:
    """The outcome of a receiver's HTTP status."""
    if 200 <= status < 300:
        return Outcome(True, code=status)
    wait = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
    retried = status in (408, 429) or status >= 500
    return Outcome(False, permanent=not retried, code=status, error=f"HTTP {status}", retry_after_s=wait)


def smtp_outcome(code: int, message: bytes | str) -> Outcome:
    """The outcome of an SMTP server's refusal: 5xx permanent, anything else retried."""
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    return Outcome(False, permanent=500 <= code < 600, code=code, error=f"SMTP {code} {text}"[:300])


def check_address(url: str, allow_private: bool) -> Outcome | None:
    """None when `url` may be posted to; else why not: not an http(s) URL, or a host that resolves to a
    loopback, private, link-local or reserved address (unless `allow_private`). A name that does not resolve
    is retried (DNS may be down)."""
    web = parse_web_target(url)
    if web is None:
        return Outcome(False, permanent=True, error="the target is not an http(s) URL")
    if allow_private:
        return None
    try:
        found = socket.getaddrinfo(web.host, web.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        return Outcome(False, error="the target's host name does not resolve")
    if any(not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global for info in found):
        message = "the target resolves to a private address (set SIGHTLINE_NOTIFY_PRIVATE_TARGETS to allow it)"
        return Outcome(False, permanent=True, error=message)
    return None


class Senders:
    """Sends jobs: HTTP through one client (its connections reused), e-mail through `Settings.smtp_*`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # The transport, not a client: a client logs each request's URL (which may hold a token) at INFO, and
        # follows no redirect unless told; the transport neither logs nor redirects.
        self._transport = httpx.HTTPTransport(retries=0)
        self._timeout = httpx.Timeout(settings.notify_timeout_s).as_dict()

    def close(self) -> None:
        self._transport.close()

    def send(self, job: Job, now: datetime) -> Outcome:
        """One attempt at `job`, at `now` (the signature's time)."""
        if job.kind == "email":
            return self._email(job, now)
        refused = check_address(job.target, self.settings.notify_private_targets)
        if refused is not None:
            return refused
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Sightline/{__version__}",
            IDEMPOTENCY_HEADER: job.idempotency_key,
        }
        if job.kind == "slack":
            body = slack_payload(job.notice)
        else:
            body = webhook_body(job.notice, job.created)
            headers[EVENT_HEADER] = event_name(job.notice)
            if job.secret:
                headers[SIGNATURE_HEADER] = signature_header(job.secret, int(now.timestamp()), body)
        limits = {"timeout": self._timeout}
        request = httpx.Request("POST", job.target, content=body, headers=headers, extensions=limits)
        try:
            response = self._transport.handle_request(request)
            response.close()
            return http_outcome(response.status_code, response.headers.get("retry-after"))
        except httpx.TimeoutException:
            return Outcome(False, error=f"no answer within {self.settings.notify_timeout_s:g} s")
        except httpx.HTTPError as error:
            return Outcome(False, error=f"could not reach the target ({type(error).__name__})")

    def _email(self, job: Job, now: datetime) -> Outcome:
        s = self.settings
        if not s.smtp_host or not s.smtp_from:
            unset = "e-mail is not configured: set SIGHTLINE_SMTP_HOST and SIGHTLINE_SMTP_FROM"
            return Outcome(False, permanent=True, error=unset)
        message = email_message(job.notice, s.smtp_from, job.target, job.idempotency_key, now)
        context = ssl.create_default_context(cafile=s.smtp_ca_file)
        timeout = s.notify_timeout_s
        try:
            if s.smtp_security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
            with smtp:
                if s.smtp_security == "starttls":
                    smtp.starttls(context=context)
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password.get_secret_value() if s.smtp_password else "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            return smtp_outcome(code, text)
        except smtplib.SMTPResponseException as error:
            return smtp_outcome(error.smtp_code, error.smtp_error)
        except smtplib.SMTPException as error:
            return Outcome(False, error=f"SMTP failed: {error}"[:300])
        except OSError as error:
            return Outcome(False, error=f"could not reach the SMTP server ({type(error).__name__})")
        return Outcome(True, code=250)
