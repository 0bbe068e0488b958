"""`GET /media/{ingestKey}/{path}`: files of the origin directory (never outside it) or of an HTTP origin,
with the right content types, and the CMCD data of each request (query or headers, v1 or v2) stored."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from sightline.api.deps import get_media_origin
from sightline.api.media import safe_relative_path
from sightline.api.media_origin import MediaOrigin
from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from tests.handwritten import by_hand

CUSTOMER = 1001
PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsegment_00.ts\n#EXT-X-ENDLIST\n"
SEGMENT = bytes(range(256)) * 64


@dataclass(frozen=True)
class World:
    client: TestClient
    key: str
    root: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("media")
    root = base / "origin"
    (root / "hls").mkdir(parents=True)
    (root / "hls" / "master.m3u8").write_bytes(PLAYLIST)
    (root / "hls" / "segment_00.ts").write_bytes(SEGMENT)
    (root / "dash").mkdir()
    (root / "dash" / "clip.mpd").write_text("<MPD/>")
    (root / "dash" / "chunk-1.m4s").write_bytes(b"m4s")
    (root / "clip.mp4").write_bytes(b"mp4")
    (root / ".hidden").write_text("HIDDEN-CONTENT")
    (base / "secret.txt").write_text("SECRET")
    (root / "link-out").symlink_to(base / "secret.txt")
    settings = Settings(  # no reorder window: a request's data is stored as soon as it is read
        data_dir=base / "data",
        media_origin_dir=root,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        cmcd_reorder_window_s=0,
    )
    with TestClient(create_app(settings)) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        auth.accounts.add_customer(CUSTOMER, "Alpha", 6831)
        yield World(client, auth.accounts.create_key(KeyKind.INGEST, CUSTOMER)[1], root)


def get(world: World, path: str, cmcd: str | None = None, **headers: str) -> Any:
    query = f"?CMCD={quote(cmcd)}" if cmcd is not None else ""
    return world.client.get(f"/media/{world.key}/{path}{query}", headers=headers)


def stored_events(world: World, sid: str) -> list[dict[str, Any]]:
    """The events of the sid's first view, once the background ingests are done and the spool written."""
    app = world.client.app
    deadline = time.monotonic() + 10
    while services(app).intake.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    services(app).writer.flush()
    rows: list[dict[str, Any]] = (
        services(app)
        .store.query(
            by_hand(
                "SELECT toString(event) AS event, startup_ms, play_ms, rebuffer_ms, streamformat, assetid FROM events "
                "WHERE customer_id = {c:UInt32} AND sdkversion LIKE 'CMCD%' AND view_id IN "
                "(SELECT view_id FROM events WHERE event = 'play_request' AND assetid = {a:String}) ORDER BY seq",
                {"c": CUSTOMER, "a": sid},
            )
        )
        .to_pylist()
    )
    return rows


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("hls/master.m3u8", "application/vnd.apple.mpegurl", PLAYLIST),
        ("hls/segment_00.ts", "video/mp2t", SEGMENT),
        ("dash/clip.mpd", "application/dash+xml", b"<MPD/>"),
        ("dash/chunk-1.m4s", "video/iso.segment", b"m4s"),
        ("clip.mp4", "video/mp4", b"mp4"),
    ],
)
def test_files_are_served_with_their_content_type(world: World, path: str, content_type: str, body: bytes) -> None:
    response = get(world, path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    assert response.content == body


def test_head_answers_the_headers_only(world: World) -> None:
    response = world.client.head(f"/media/{world.key}/hls/segment_00.ts")
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-length"] == str(len(SEGMENT))


def test_a_range_is_served(world: World) -> None:
    response = get(world, "hls/segment_00.ts", Range="bytes=10-19")
    assert response.status_code == 206
    assert response.content == SEGMENT[10:20]


@pytest.mark.parametrize(
    "path",
    [
        "%2e%2e/secret.txt",  # (a client resolves a plain `..` itself: see the unit test below)
        "hls/%2e%2e/%2e%2e/secret.txt",
        "link-out",
        ".hidden",
        "hls//master.m3u8",
        "hls\\..\\..\\secret.txt",
        "hls/",
        "hls",
        "nothing.ts",
        "%00",
    ],
)
def test_nothing_outside_the_origin_is_served(world: World, path: str) -> None:
    response = world.client.get(f"/media/{world.key}/{path}")
    assert response.status_code == 404
    assert b"SECRET" not in response.content
    assert b"HIDDEN-CONTENT" not in response.content


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("hls/master.m3u8", True),
        ("../secret.txt", False),
        ("hls/../../secret.txt", False),
        ("/etc/passwd", False),
        ("link-out", False),
        (".hidden", False),
        ("hls/./master.m3u8", False),
        ("hls", False),
    ],
)
def test_only_plain_paths_inside_the_directory_resolve(world: World, path: str, served: bool) -> None:
    relative = safe_relative_path(path)
    origin = MediaOrigin(world.root.resolve(), None)
    assert (relative is not None and origin.file(relative) is not None) == served


def test_an_unknown_key_is_410_and_serves_nothing(world: World) -> None:
    response = world.client.get("/media/sli_nosuchkey/hls/master.m3u8")
    assert response.status_code == 410
    assert PLAYLIST not in response.content


def test_a_v1_session_through_the_pass_through_is_a_view(world: World) -> None:
    sid = f"v1-{uuid.uuid4()}"
    session = f'cid="{sid}",sf=h,sid="{sid}",st=v'
    assert get(world, "hls/master.m3u8", f"ot=m,{session},su").status_code == 200
    time.sleep(0.05)
    assert get(world, "hls/segment_00.ts", f"br=800,bl=0,d=2000,ot=av,{session},su").status_code == 200
    time.sleep(0.3)
    assert get(world, "hls/segment_00.ts", f"br=800,bl=4000,d=2000,ot=av,{session}").status_code == 200
    rows = stored_events(world, sid)
    assert [row["event"] for row in rows] == ["play_request", "first_frame"]
    assert rows[0]["streamformat"] == "hls"
    assert 300 <= rows[1]["startup_ms"] < 2_000  # the first request without `su` after the play request


def test_cmcd_headers_are_read_and_bad_cmcd_never_fails_the_media(world: World) -> None:
    sid = f"hdr-{uuid.uuid4()}"
    headers = {"CMCD-Session": f'cid="{sid}",sid="{sid}",sf=h,v=2', "CMCD-Request": "sta=s"}
    assert get(world, "hls/master.m3u8", **headers).status_code == 200
    assert get(world, "hls/master.m3u8", **{**headers, "CMCD-Request": "sta=p"}).status_code == 200
    for cmcd in ("not(cmcd", f'sid="{sid}",v=3,sta=e', f'sid="{sid}",sta=zz,v=2'):
        response = get(world, "hls/master.m3u8", cmcd)
        assert (response.status_code, response.content) == (200, PLAYLIST)
    assert [row["event"] for row in stored_events(world, sid)] == ["play_request", "first_frame"]


class _Recording(SimpleHTTPRequestHandler):
    """Serves the directory and records what each request asked for: (path with query, Range)."""

    seen: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Range")))
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextlib.contextmanager
def origin(world: World, media_origin: MediaOrigin) -> Iterator[None]:
    """The app serving from `media_origin` meanwhile."""
    overrides = world.client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[get_media_origin] = lambda: media_origin
    try:
        yield
    finally:
        del overrides[get_media_origin]


@pytest.fixture
def http_origin(world: World) -> Iterator[list[tuple[str, str | None]]]:
    seen: list[tuple[str, str | None]] = []
    handler = type("Handler", (_Recording,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(world.root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with origin(world, MediaOrigin(None, f"http://127.0.0.1:{server.server_address[1]}")):
            yield seen
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_origin_is_forwarded_to(world: World, http_origin: list[tuple[str, str | None]]) -> None:
    sid = f"url-{uuid.uuid4()}"
    response = world.client.get(
        f"/media/{world.key}/hls/segment_00.ts",
        params={"token": "abc", "CMCD": f'sid="{sid}",cid="{sid}",su'},
        headers={"Range": "bytes=0-9"},
    )
    assert (response.status_code, response.content) == (200, SEGMENT)  # the test origin ignores ranges
    assert response.headers["content-type"] == "video/mp2t"  # it says text/vnd.trolltech.linguist
    assert http_origin == [("/hls/segment_00.ts?token=abc", "bytes=0-9")]  # CMCD is ours, the rest is forwarded
    assert get(world, "nothing.ts").status_code == 404
    assert get(world, "%2e%2e/secret.txt").status_code == 404
    assert [row["event"] for row in stored_events(world, sid)] == ["play_request"]


def test_an_unreachable_origin_is_502(world: World) -> None:
    with origin(world, MediaOrigin(None, "http://127.0.0.1:9")):
        response = get(world, "hls/master.m3u8")
    assert (response.status_code, response.json()["error"]["code"]) == (502, "origin_unreachable")


def test_without_an_origin_nothing_is_served(world: World) -> None:
    with origin(world, MediaOrigin(None, None)):
        assert get(world, "hls/master.m3u8").status_code == 404


def test_the_routes_are_documented_once_each(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, argon2_time_cost=1, argon2_memory_kib=1024))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicate operation id is a warning
        paths = app.openapi()["paths"]
    app.state.auth.close()
    assert set(paths["/media/{ingestKey}/{path}"]) == {"get"}
    assert set(paths["/cmcd/{ingestKey}"]) == set(paths["/cmcd"]) == {"post"}
