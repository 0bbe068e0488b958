"""The pure parts of notifications: messages and signatures, levels, outcomes of answers, backoff, targets."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from sightline.alerts.delivery import RetryPolicy
from sightline.alerts.messages import email_message, signature_header, slack_payload, webhook_body
from sightline.alerts.notify import Level, Notice, Recipient, admits, idempotency_key
from sightline.alerts.senders import check_address, http_outcome, smtp_outcome
from sightline.alerts.targets import shown_target
from tests.alerts.receivers import documented_verify, slack_problems

CREATED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def notice(title: str = "VSF 12.3 % on cdn=Akamai ∧ country=US (expected 1.1 %)", **alert: object) -> Notice:
    return Notice(
        key="a-1:open:1",
        customer_id=1001,
        alert_id="a-1",
        rule_id="r-1",
        transition="open",
        severity="critical",
        title=title,
        alert={"metric": "vsf", "observed": 12.3, "series": [1, 2, 3], **alert},
        recipients=(Recipient("webhook", "https://hooks.example.com/x", secret="s3cret"),),
    )


@pytest.mark.parametrize(
    ("level", "severity", "told"),
    [
        ("warning", "warning", True),
        ("warning", "critical", True),
        ("major", "warning", False),
        ("major", "major", True),
        ("major", "critical", True),
        ("critical", "major", False),
        ("critical", "critical", True),
    ],
)
def test_a_level_admits_its_severity_and_the_more_severe(level: Level, severity: Level, told: bool) -> None:
    assert admits(level, severity) is told


def test_the_documented_verification_accepts_our_signature_and_nothing_else() -> None:
    verify, body, now = documented_verify(), webhook_body(notice(), CREATED), int(time.time())
    assert verify("s3cret", signature_header("s3cret", now, body), body)
    assert not verify("other", signature_header("s3cret", now, body), body)
    assert not verify("s3cret", signature_header("s3cret", now, body), body + b" ")
    assert not verify("s3cret", signature_header("s3cret", now - 3600, body), body)
    assert not verify("s3cret", "garbage", body)


def test_the_webhook_body_is_the_notice_and_its_whole_alert_and_the_same_every_time() -> None:
    body = webhook_body(notice(), CREATED)
    assert body == webhook_body(notice(), CREATED)
    decoded = json.loads(body)
    assert decoded["event"] == "alert.opened"
    assert decoded["alert"]["series"] == [1, 2, 3]
    assert (decoded["customerid"], decoded["alertid"], decoded["created"]) == (1001, "a-1", int(CREATED.timestamp()))
    assert b"s3cret" not in body


def test_the_slack_payload_keeps_slacks_rules_for_any_title() -> None:
    for title in ("VSF <b>12 %</b> & more on cdn=<script>", "x" * 5000, "ünïcødé ∧ 🎬"):
        payload = json.loads(slack_payload(notice(title, note="a < b")))
        assert slack_problems(payload) == []
        assert payload["text"].startswith("[CRITICAL] Alert opened: ")


def test_the_email_has_text_and_html_and_its_message_id_is_the_key() -> None:
    message = email_message(notice("VSF <b>12 %</b>"), "alerts@example.com", "ops@example.com", "k-1", CREATED)
    assert isinstance(message, EmailMessage)
    assert message["Message-ID"] == "<k-1@example.com>"
    text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None
    assert html is not None
    assert "VSF <b>12 %</b>" in text.get_content()
    assert "VSF &lt;b&gt;12 %&lt;/b&gt;" in html.get_content()
    assert "Severity: critical" in text.get_content()


def test_the_idempotency_key_names_customer_notice_and_recipient() -> None:
    webhook = Recipient("webhook", "https://a.example.com/x")
    keys = {
        idempotency_key(1001, "a:open:1", webhook),
        idempotency_key(1002, "a:open:1", webhook),
        idempotency_key(1001, "a:resolve:1", webhook),
        idempotency_key(1001, "a:open:1", Recipient("slack", "https://a.example.com/x")),
    }
    assert len(keys) == 4
    changed = Recipient("webhook", "https://a.example.com/x", "critical", "another secret")
    assert idempotency_key(1001, "a:open:1", webhook) == idempotency_key(1001, "a:open:1", changed)


@pytest.mark.parametrize(
    ("status", "delivered", "permanent"),
    [
        (200, True, False),
        (204, True, False),
        (301, False, True),
        (400, False, True),
        (401, False, True),
        (404, False, True),
        (410, False, True),
        (408, False, False),
        (429, False, False),
        (500, False, False),
        (503, False, False),
    ],
)
def test_a_2xx_is_delivered_a_4xx_but_408_and_429_permanent_the_rest_retried(
    status: int, delivered: bool, permanent: bool
) -> None:
    outcome = http_outcome(status)
    assert (outcome.delivered, outcome.permanent, outcome.code) == (delivered, permanent, status)


def test_retry_after_is_read_and_smtp_5xx_is_permanent() -> None:
    assert http_outcome(429, "120").retry_after_s == 120
    assert http_outcome(503, "Wed, 21 Oct 2015 07:28:00 GMT").retry_after_s is None
    assert smtp_outcome(550, b"5.1.1 no such user").permanent
    assert not smtp_outcome(451, b"4.3.0 try later").permanent


def test_backoff_doubles_with_jitter_within_its_cap_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_attempts=10, base_s=10, cap_s=100)
    assert [policy.delay_s(n, 0.0) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 50]
    assert [policy.delay_s(n, 0.999999) for n in (1, 2, 3)] == pytest.approx([10, 20, 40])
    assert policy.delay_s(1, 0.5, retry_after_s=60) == pytest.approx(45)
    assert policy.delay_s(1, 0.0, retry_after_s=10_000) == 50


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("ftp://example.com/x", "not an http(s) URL"),
        ("https:///nohost", "not an http(s) URL"),
        ("http://127.0.0.1:9/x", "private address"),
        ("http://localhost/x", "private address"),
        ("http://10.1.2.3/x", "private address"),
        ("http://169.254.169.254/latest/meta-data", "private address"),
        ("http://[::1]/x", "private address"),
        ("https://93.184.215.14/hook", None),
        ("https://example.com:99999/hook", "not an http(s) URL"),
    ],
)
def test_webhooks_reach_only_public_addresses_by_default(url: str, refused: str | None) -> None:
    outcome = check_address(url, allow_private=False)
    if refused is None:
        assert outcome is None
    else:
        assert outcome is not None
        assert outcome.permanent
        assert refused in (outcome.error or "")
    assert (check_address(url, allow_private=True) is None) == (refused != "not an http(s) URL")


@pytest.mark.parametrize(
    ("kind", "target", "shown"),
    [
        ("slack", "https://hooks.slack.com/services/T0/B0/XXXXSECRET", "https://hooks.slack.com/…"),
        ("webhook", "https://user:pw@example.com:8443/in?token=abc", "https://example.com:8443/…"),
        ("webhook", "https://example.com", "https://example.com"),
        ("email", "ops@example.com", "ops@example.com"),
        ("webhook", "http://[::1]:8080/in", "http://[::1]:8080/…"),
        ("webhook", "http://example.com:99999/in", "(not an http(s) URL)"),
        ("webhook", "not a url", "(not an http(s) URL)"),
        ("webhook", "https://[::1", "(not an http(s) URL)"),
        ("webhook", "https://[::1]]/in", "(not an http(s) URL)"),
        ("webhook", "https://example.com:/in", "https://example.com/…"),
        ("webhook", "https://भारत.भारत/hook", "https://भारत.भारत/…"),  # combining marks: a name in IDNA
        ("webhook", "https://256.0.0.1/in", "(not an http(s) URL)"),
        ("webhook", "https://a..b/in", "(not an http(s) URL)"),
        ("webhook", "https://[fe80::1%25eth0]:8443", "https://[fe80::1%25eth0]:8443"),
    ],
)
def test_the_log_shows_a_url_without_its_path_query_or_login(kind: str, target: str, shown: str) -> None:
    assert shown_target(kind, target) == shown
