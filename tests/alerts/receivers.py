"""Real receivers of notifications on 127.0.0.1, for the delivery tests: an HTTP server that answers a script
of statuses, checks each webhook's signature with the code docs/alerts.md gives and each Slack payload against
Slack's Block Kit rules; and an SMTP server (aiosmtpd), with STARTTLS and a login when asked."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"


def documented_verify() -> Callable[[str, str, bytes], bool]:
    """`verify(secret, header, body)`, from the Python block under docs/alerts.md's "Verifying a signature"."""
    text = DOCS.read_text()
    section = text[text.index("### Verifying a signature") :]
    code = section[section.index("```python\n") + len("```python\n") : section.index("```\n", 10)]
    scope: dict[str, Any] = {}
    exec(compile(code, str(DOCS), "exec"), scope)
    verify: Callable[[str, str, bytes], bool] = scope["verify"]
    return verify


def slack_problems(payload: Any) -> list[str]:
    """What an incoming webhook would refuse in `payload` (Block Kit's limits, mrkdwn's escaping); [] if none."""
    problems: list[str] = []

    def text_object(node: Any, where: str, most: int, kinds: tuple[str, ...] = ("plain_text", "mrkdwn")) -> None:
        if not isinstance(node, dict) or node.get("type") not in kinds or not isinstance(node.get("text"), str):
            problems.append(f"{where}: not a text object of {kinds}")
            return
        if set(node) - {"type", "text", "emoji", "verbatim"}:
            problems.append(f"{where}: unknown keys {set(node) - {'type', 'text', 'emoji', 'verbatim'}}")
        if not 1 <= len(node["text"]) <= most:
            problems.append(f"{where}: {len(node['text'])} characters (1 to {most})")
        if node["type"] == "mrkdwn" and ("<" in node["text"] or ">" in node["text"]):
            problems.append(f"{where}: a < or > in mrkdwn (Slack reads <…> as a link; escape them)")

    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str) or not payload["text"]:
        return ["no text"]
    blocks = payload.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return ["blocks: not a list of at most 50"]
    for n, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "header":
            text_object(block.get("text"), f"blocks[{n}].text", 150, ("plain_text",))
        elif kind == "section":
            if "text" in block:
                text_object(block["text"], f"blocks[{n}].text", 3000)
            fields = block.get("fields", [])
            if ("text" not in block and not fields) or len(fields) > 10:
                problems.append(f"blocks[{n}]: a section needs text or 1 to 10 fields")
            for m, item in enumerate(fields):
                text_object(item, f"blocks[{n}].fields[{m}]", 2000)
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"blocks[{n}]: a context needs 1 to 10 elements")
            for m, item in enumerate(elements):
                text_object(item, f"blocks[{n}].elements[{m}]", 3000)
        elif kind != "divider":
            problems.append(f"blocks[{n}]: unknown block type {kind!r}")
    return problems


@dataclass
class Received:
    """A request the HTTP receiver got, and what it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    problem: str | None


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1: answers `script`'s statuses in turn, then `then`; a request whose webhook
    signature (when `secret` is set) or Slack payload (on paths under /slack) is wrong gets 400 and is noted."""

    script: list[int] = field(default_factory=list)
    then: int = 200
    secret: str | None = None
    delay_s: float = 0.0
    """How long each request waits for its answer."""
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        problem = None
        if path.startswith("/slack"):
            problems = slack_problems(json.loads(body))
            problem = "; ".join(problems) or None
        elif self.secret is not None:
            header = headers.get("sightline-signature", "")
            problem = None if documented_verify()(self.secret, header, body) else "bad signature"
        status = 400 if problem else (self.script.pop(0) if self.script else self.then)
        self.received.append(Received(path, headers, body, status, problem))
        return status


@contextmanager
def serve(receiver: Receiver) -> Iterator[Receiver]:
    """`receiver`, served on 127.0.0.1 (its `url`) while the context lasts."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(receiver.delay_s)
            with lock:
                status = receiver.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Mailbox:
    """What the SMTP server received: each message with its envelope recipients; and its address."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    refuse: frozenset[str] = frozenset()
    """Addresses answered 550."""
    port: int = 0

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def run_smtp(
    mailbox: Mailbox,
    tls: ssl.SSLContext | None = None,
    login: tuple[str, str] | None = None,
    implicit_tls: bool = False,
) -> Iterator[Mailbox]:
    """An aiosmtpd server on 127.0.0.1 into `mailbox` while the context lasts; with `tls`, STARTTLS required
    (or TLS from the start with `implicit_tls`), and with `login`, a LOGIN/PLAIN authentication with that user
    and password required."""

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and login is not None
            and (data.login, data.password)
            == (
                login[0].encode(),
                login[1].encode(),
            )
        )
        return AuthResult(success=ok)

    mailbox.port = free_port()
    options: dict[str, Any] = {}
    if tls is not None:
        # aiosmtpd sees no TLS on an implicit-TLS connection: it would not offer AUTH there otherwise
        implicit = {"ssl_context": tls, "auth_require_tls": False}
        options |= implicit if implicit_tls else {"tls_context": tls, "require_starttls": True}
    if login is not None:
        options |= {"authenticator": authenticate, "auth_required": True}
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **options)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
