"""The parts of the real-browser tests: a clip made by ffmpeg, players installed from npm, the app in a
uvicorn subprocess, the pages on a second local server (so the collector is cross-origin), and the
query API asked about the view a page played.

Every part is real: Debian's Chromium (never a downloaded browser), ffmpeg and npm must be installed
(`.ci/run` does it); a missing one fails the test with what to install, it is never skipped.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from sightline.auth.kinds import KeyKind
from sightline.auth.service import AuthService

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)
CLIP_SECONDS = 10.0
SEGMENT_SECONDS = 2
STALL_MS = 5000
PLAN_LEVEL = 6831


def require_tool(path: str, package: str) -> str:
    """The tool's path; fails (never skips) when it is not installed."""
    found = shutil.which(path)
    if found is None:
        pytest.fail(f"{path} is not installed: `apt-get install -y {package}` (.ci/run installs it)", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- the clip ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """A `CLIP_SECONDS` test clip (testsrc2 + a sine tone, H.264 + AAC) as HLS, DASH and a progressive MP4,
    with a keyframe every `SEGMENT_SECONDS`; paths relative to the static site's root."""

    directory: Path
    hls: str = "clip/hls/master.m3u8"
    hls_stalling: str = "clip/hls/stalling.m3u8"
    """The media playlist with its second segment served `STALL_MS` late: playback stalls once, after 2 s."""
    dash: str = "clip/dash/clip.mpd"
    mp4: str = "clip/clip.mp4"
    duration_s: float = CLIP_SECONDS

    def hls_bandwidth(self) -> int:
        """BANDWIDTH of the one variant of the HLS master playlist (bits/s), as ffmpeg wrote it."""
        found = re.search(r"BANDWIDTH=(\d+)", (self.directory / "hls" / "master.m3u8").read_text())
        assert found, "no BANDWIDTH in the master playlist"
        return int(found.group(1))

    def dash_video_bandwidth(self) -> int:
        """@bandwidth of the video Representation of the DASH manifest (bits/s), as ffmpeg wrote it."""
        root = ElementTree.parse(self.directory / "dash" / "clip.mpd").getroot()
        for adaptation in root.iter("{urn:mpeg:dash:schema:mpd:2011}AdaptationSet"):
            if adaptation.get("contentType") == "video":
                representation = adaptation.find("{urn:mpeg:dash:schema:mpd:2011}Representation")
                assert representation is not None
                return int(representation.get("bandwidth", "0"))
        raise AssertionError("no video AdaptationSet in the DASH manifest")


def build_clip(directory: Path) -> Clip:
    """Encode the clip into `directory` (about 3 s)."""
    ffmpeg = require_tool("ffmpeg", "ffmpeg")
    quiet = (ffmpeg, "-hide_banner", "-loglevel", "error", "-y")
    mp4, hls, dash = directory / "clip.mp4", directory / "hls", directory / "dash"
    hls.mkdir(parents=True)
    dash.mkdir()
    fps = 24
    encode = (
        *quiet,
        *("-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={fps}:duration={CLIP_SECONDS:g}"),
        *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={CLIP_SECONDS:g}"),
        *("-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p", "-b:v", "800k"),
        *("-g", str(fps * SEGMENT_SECONDS), "-keyint_min", str(fps * SEGMENT_SECONDS), "-sc_threshold", "0"),
        *("-c:a", "aac", "-b:a", "96k", "-shortest", "-movflags", "+faststart", str(mp4)),
    )
    segment_hls = (
        *quiet, "-i", str(mp4), "-c", "copy", "-f", "hls", "-hls_time", str(SEGMENT_SECONDS),
        "-hls_playlist_type", "vod", "-hls_segment_filename", str(hls / "segment_%02d.ts"),
        "-master_pl_name", "master.m3u8", str(hls / "media.m3u8"),
    )  # fmt: skip
    segment_dash = (
        *quiet, "-i", str(mp4), "-c", "copy", "-f", "dash", "-seg_duration", str(SEGMENT_SECONDS),
        "-use_template", "1", "-use_timeline", "0", str(dash / "clip.mpd"),
    )  # fmt: skip
    for command in (encode, segment_hls, segment_dash):
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    media = (hls / "media.m3u8").read_text()
    assert "segment_01.ts\n" in media, media
    (hls / "stalling.m3u8").write_text(media.replace("segment_01.ts\n", f"segment_01.ts?stall_ms={STALL_MS}\n"))
    return Clip(directory)


# --- npm ---------------------------------------------------------------------------------------------


def install_npm_modules(cache_root: Path) -> Path:
    """`npm ci` of tests/browser/package-lock.json into a cache directory named by the lock's hash, once
    per lock (a file lock serialises concurrent sessions); the node_modules directory."""
    npm = require_tool("npm", "npm")
    lock = (HERE / "package-lock.json").read_bytes()
    target = cache_root / f"npm-{hashlib.sha256(lock).hexdigest()[:16]}"
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        stamp = target / ".installed"
        if not stamp.exists():
            shutil.copy(HERE / "package.json", target / "package.json")
            (target / "package-lock.json").write_bytes(lock)
            subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=target, check=True, capture_output=True, timeout=600,
            )  # fmt: skip
            stamp.touch()
    return target / "node_modules"


def npm_cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sightline-tests"


# --- the static site ---------------------------------------------------------------------------------


class _StaticHandler(SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012 (the base class's attribute)
        **SimpleHTTPRequestHandler.extensions_map,
        ".m3u8": "application/vnd.apple.mpegurl",
        ".ts": "video/mp2t",
        ".mpd": "application/dash+xml",
        ".m4s": "video/iso.segment",
        ".mp4": "video/mp4",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def do_GET(self) -> None:
        """A file; `?stall_ms=N` holds its answer back N ms (a slow segment, to make a player stall)."""
        stall_ms = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("stall_ms", ["0"])[0]
        time.sleep(int(stall_ms) / 1000)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests say what failed."""


@dataclass(frozen=True)
class StaticSite:
    """The test pages (`pages/…`), the clip (`clip/…`) and the npm packages (`node_modules/…`), served from
    127.0.0.1 on a port of their own: another origin than the app's."""

    base_url: str

    def url(self, path: str, **query: str) -> str:
        """The URL of `path` (relative to the site's root) with `query` as its query string."""
        return f"{self.base_url}/{path}" + ("?" + urllib.parse.urlencode(query) if query else "")

    def module(self, path: str) -> str:
        """The URL of a file of an npm package, e.g. `module("hls.js/dist/hls.min.js")`."""
        return self.url(f"node_modules/{path}")


@contextlib.contextmanager
def serve_static(root: Path, clip: Clip, node_modules: Path) -> Iterator[StaticSite]:
    """Serve `root`, which gets links to the pages, the clip and the npm packages, on a free port."""
    for name, target in (("pages", PAGES), ("clip", clip.directory), ("node_modules", node_modules)):
        (root / name).symlink_to(target, target_is_directory=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_StaticHandler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield StaticSite(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


# --- the app -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    """A customer of the running app with an ingest key (for the players) and an API key (for queries)."""

    base_url: str
    customer_id: int
    plan_level: int
    ingest_key: str
    api_key: str
    context: ssl.SSLContext | None = None
    """What trusts the app's certificate, when it serves TLS."""

    def query(self, metrics: str, since_s: float, until_s: float, **params: str) -> dict[str, Any]:
        """GET /mm-apis/metricquery/{customerId} over [since, until] (whole minutes around them)."""
        period = f"start={int(since_s) - 60},end={int(until_s) + 120}"
        query = urllib.parse.urlencode(
            {"planlevel": str(self.plan_level), "metrics": metrics, "period": period, **params}
        )
        request = urllib.request.Request(
            f"{self.base_url}/mm-apis/metricquery/{self.customer_id}?{query}", headers={"X-API-Key": self.api_key}
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as error:
            raise AssertionError(f"the query API answered {error.code}: {error.read()[:500]!r}") from None

    def wait_for_ended_views(self, since_s: float, count: int = 1, timeout_s: float = 60.0) -> None:
        """Poll until `count` views started since `since_s` have ended and are queryable (whatever the
        spool and the writer delay)."""
        deadline = time.monotonic() + timeout_s
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            seen = self.query("viewercount", since_s, time.time(), sessiontype="ended")
            if sum(row.get("viewercount") or 0 for row in seen["response"]) >= count:
                return
            time.sleep(0.5)
        raise AssertionError(f"{count} ended view(s) not queryable after {timeout_s} s; last answer: {seen}")


@dataclass(frozen=True)
class ReportedView:
    """What the query API says of the views of a period, read as one view."""

    plays: int
    startup_ms: float
    play_s: float
    browser: str
    platform: str


def reported_view(tenant: Tenant, since_s: float) -> ReportedView:
    """Wait for the view a page played since `since_s` to end and be queryable, then read it back:
    viewercount, latency (s) and playdur (min) by browser and platform."""
    tenant.wait_for_ended_views(since_s)
    answer = tenant.query("viewercount,latency,playdur", since_s, time.time(), aggby="browser,platform")
    rows = answer["response"]
    assert len(rows) == 1, f"one browser and platform expected: {rows}"
    row = rows[0]
    return ReportedView(
        plays=row["viewercount"],
        startup_ms=row["latency"] * 1000,
        play_s=row["playdur"] * 60,
        browser=row["browser"],
        platform=row["platform"],
    )


@dataclass(frozen=True)
class Certificate:
    """A TLS certificate made by the test for a host name and 127.0.0.1, signed by a CA of its own."""

    cert: Path
    """The certificate chain (PEM)."""
    key: Path
    """Its private key (PEM)."""
    spki_sha256: str
    """Base64 SHA-256 of its public key (SubjectPublicKeyInfo): Chromium's
    `--ignore-certificate-errors-spki-list` accepts the certificate by it, and by nothing else."""
    client: ssl.SSLContext
    """A client context that trusts it."""


def make_certificate(directory: Path, host: str) -> Certificate:
    """A certificate for `host` and 127.0.0.1, written to `directory`."""
    authority = trustme.CA()
    issued = authority.issue_cert(host, "127.0.0.1")
    cert, key = directory / "cert.pem", directory / "key.pem"
    for i, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(cert), append=i > 0)
    issued.private_key_pem.write_to_path(str(key))
    public_key = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes()).public_key()
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return Certificate(cert, key, base64.b64encode(hashlib.sha256(spki).digest()).decode(), client)


@dataclass(frozen=True)
class SightlineApp:
    """The app serving on 127.0.0.1 in a subprocess, over a data directory of its own."""

    base_url: str
    data_dir: Path
    log: Path
    context: ssl.SSLContext | None = None
    """What trusts the app's certificate, when it serves TLS."""


def add_tenant(app: SightlineApp, auth: AuthService, customer_id: int) -> Tenant:
    """A new customer of the running `app` (whose accounts database `auth` is), with an ingest and an API key."""
    accounts = auth.accounts
    accounts.add_customer(customer_id, f"Browser test {customer_id}", PLAN_LEVEL)
    return Tenant(
        base_url=app.base_url,
        customer_id=customer_id,
        plan_level=PLAN_LEVEL,
        ingest_key=accounts.create_key(KeyKind.INGEST, customer_id)[1],
        api_key=accounts.create_key(KeyKind.API, customer_id)[1],
        context=app.context,
    )


@contextlib.contextmanager
def run_app(
    data_dir: Path,
    media_dir: Path | None = None,
    certificate: Certificate | None = None,
    settings: dict[str, str] | None = None,
) -> Iterator[SightlineApp]:
    """`sightline serve` (uvicorn) on a free port, writes flushed within 0.1 s, serving `media_dir` at
    /media/{ingestKey}/…, over TLS with `certificate` if given, with `settings` (`SIGHTLINE_*` variables);
    stopped with SIGTERM."""
    port, log = free_port(), data_dir.parent / f"{data_dir.name}-server.log"
    env = {**os.environ, "SIGHTLINE_WRITER_MAX_DELAY_S": "0.1", **(settings or {})}
    if media_dir is not None:
        env["SIGHTLINE_MEDIA_ORIGIN_DIR"] = str(media_dir)
    command = [sys.executable, "-m", "sightline", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    if certificate is not None:
        command += ["--tls-cert", str(certificate.cert), "--tls-key", str(certificate.key)]
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    context = certificate.client if certificate is not None else None
    base_url = f"{'https' if certificate is not None else 'http'}://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, server, log, context)
        yield SightlineApp(base_url, data_dir, log, context)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def _wait_healthy(base_url: str, server: subprocess.Popen[bytes], log: Path, context: ssl.SSLContext | None) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited ({server.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the server did not come up: {log.read_text()[-2000:]}")


# --- what the browser says of itself -----------------------------------------------------------------


@dataclass(frozen=True)
class Playback:
    """What a test page measured itself (pages/measure.js), independently of the integration under test."""

    startup_ms: float
    stalls: int
    stall_ms: float
    play_s: float
    """Wall-clock time playing (a loaded machine plays the clip for longer than it lasts)."""
    user_agent: str
    player_startup_ms: float | None = None
    """The startup as the player itself times it, when the page measures it (the CMCD pages do)."""

    def holds_play_time(self, reported_s: float, media_s: float, tolerance_s: float) -> bool:
        """Whether a reported play time lies between the media played (`media_s`) and the wall-clock time the page
        saw it playing, give or take `tolerance_s`: a player may count either, and they part on a starved machine."""
        return media_s - tolerance_s <= reported_s <= max(media_s, self.play_s) + tolerance_s

    def expected_browser(self) -> str:
        """The browser's name as its User-Agent gives it: `HeadlessChrome` or `Chrome` for Chromium."""
        found = re.search(r"\b(HeadlessChrome|Chrome)/\d+", self.user_agent)
        assert found, f"not a Chromium user agent: {self.user_agent}"
        return found.group(1)

    @staticmethod
    def expected_platform() -> str:
        """The OS the browser runs on: this machine's."""
        return platform.system()


_VIDEO_STATE = """() => {
  const v = document.querySelector('video');
  if (!v) return null;
  const buffered = Array.from({length: v.buffered.length}, (_, i) => [v.buffered.start(i), v.buffered.end(i)]);
  return {currentTime: v.currentTime, duration: v.duration, paused: v.paused, readyState: v.readyState,
          networkState: v.networkState, buffered};
}"""
"""What the page's video element says of itself, for a failure's message."""


def play_to_end(page: Page, url: str, timeout_s: float = 60.0) -> Playback:
    """Open `url`, a page that plays with pages/measure.js, and wait for its `ended`; fails with the page's
    console when it reports an error or does not end in time."""
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.goto(url)
    try:
        page.wait_for_function(
            "window.playback && (window.playback.ended || window.playback.errors.length > 0)", timeout=timeout_s * 1000
        )
    except PlaywrightTimeoutError:
        state = page.evaluate("window.playback || null")
        video = page.evaluate(_VIDEO_STATE)
        raise AssertionError(
            f"the page did not play to its end in {timeout_s} s: {state}; video {video}; {console}"
        ) from None
    state = page.evaluate("window.playback")
    assert not state["errors"], f"the page reported errors: {state['errors']}; {console}"
    assert state["startupMs"] is not None, f"no first frame: {console}"
    assert state["playMs"] > 0, f"the page did not measure its play time: {state}"
    return Playback(
        startup_ms=state["startupMs"],
        stalls=state["stalls"],
        stall_ms=state["stallMs"],
        play_s=state["playMs"] / 1000,
        user_agent=page.evaluate("navigator.userAgent"),
        player_startup_ms=state.get("playerStartupMs"),
    )
