"""`GET /media/{ingestKey}/{path}`: a media pass-through that reads the CMCD data of each request.

A player is pointed at `/media/<ingest key>/<path of a manifest>`; every manifest and segment it then
requests (relative URLs resolve under the same prefix) carries CMCD in request mode — `?CMCD=` or the
`CMCD-Object/-Request/-Session/-Status` headers, v1 or v2 — which feeds the CMCD sessions
(`ingest.cmcd_format`, `ingest.cmcd_views`), and is answered with the file of the configured origin:
- `SIGHTLINE_MEDIA_ORIGIN_DIR`: a directory served as it is (Range requests included); a path is
  plain segments only (no `..`, no hidden names, no back-slashes) and must resolve inside the
  directory, symbolic links included, so nothing outside it can be reached;
- `SIGHTLINE_MEDIA_ORIGIN_URL`: an HTTP origin the request is forwarded to (streamed, `Range` and
  validators forwarded, the `CMCD` query parameter and headers not), 502/504 when it fails.
Media requests must never wait for analytics nor fail because of them: their CMCD data is stored in
the background, after the answer, and dropped (never an error) when it is malformed, of a version above
2, or when the collector is busy. Like event reports, it is held for the reorder window (its time is its
`ts`, else its arrival). The media answer is 401/410 for a missing/unknown ingest key, 404 for
a path that is not served (or no origin configured).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from sightline.api.access import access
from sightline.api.cmcd import customer_for_key
from sightline.api.deps import AuthDep, FormatsDep, IntakeDep, MediaOriginDep
from sightline.api.enrichment import request_origin
from sightline.api.errors import ApiError
from sightline.auth.plans import INGEST
from sightline.ingest.format import Message
from sightline.ingest.formats import Formats
from sightline.ingest.intake import Intake

router = APIRouter(tags=["ingest"])
MEDIA_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".cmfv": "video/mp4",
    ".m4a": "audio/mp4",
    ".cmfa": "audio/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
}
FORWARDED_REQUEST_HEADERS = ("range", "if-none-match", "if-modified-since", "if-range", "accept", "accept-encoding")
FORWARDED_RESPONSE_HEADERS = (
    "content-type", "content-length", "content-range", "content-encoding", "accept-ranges", "etag",
    "last-modified", "cache-control", "expires",
)  # fmt: skip
ORIGIN_TIMEOUT_S = 30.0
CMCD_REQUEST_HEADERS = ("range", "cmcd-object", "cmcd-request", "cmcd-session", "cmcd-status")
"""Request headers a player sends to the media route, which cross-origin requests must be allowed."""


def media_type(path: PurePosixPath) -> str:
    """The content type of a media file by its extension (`application/octet-stream` when unknown)."""
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


def safe_relative_path(path: str) -> PurePosixPath | None:
    """`path` as plain segments, or None when it has an empty, `.`, `..` or hidden segment, a back-slash or
    a NUL: such a path is never served."""
    if not path or "\\" in path or "\x00" in path:
        return None
    parts = path.split("/")
    if any(not part or part.startswith(".") for part in parts):
        return None
    return PurePosixPath(*parts)


def _not_found(path: str) -> ApiError:
    return ApiError(404, "not_found", f"no media at {path[:200]!r}", "path")


async def _forward(request: Request, origin_url: str, relative: PurePosixPath) -> Response:
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "CMCD"])
    url = f"{origin_url}/{quote(str(relative))}" + (f"?{query}" if query else "")
    headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers}
    client = httpx.AsyncClient(timeout=ORIGIN_TIMEOUT_S, follow_redirects=True)
    try:
        upstream = await client.send(client.build_request(request.method, url, headers=headers), stream=True)
    except httpx.TimeoutException:
        await client.aclose()
        raise ApiError(504, "origin_timeout", "the media origin did not answer in time") from None
    except httpx.HTTPError as error:
        await client.aclose()
        raise ApiError(
            502, "origin_unreachable", f"the media origin cannot be reached: {type(error).__name__}"
        ) from None
    if upstream.status_code >= 500:
        await upstream.aclose()
        await client.aclose()
        raise ApiError(502, "origin_failed", f"the media origin answered {upstream.status_code}")
    answer = {name: upstream.headers[name] for name in FORWARDED_RESPONSE_HEADERS if name in upstream.headers}
    if relative.suffix.lower() in MEDIA_TYPES or "content-type" not in answer:
        answer["content-type"] = media_type(relative)  # origins often label .ts as something else

    async def body() -> AsyncIterator[bytes]:
        async for chunk in upstream.aiter_raw():
            yield chunk

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    return StreamingResponse(body(), status_code=upstream.status_code, headers=answer, background=BackgroundTask(close))


_ANSWERS = access(
    INGEST,
    404,
    410,
    502,
    504,
    descriptions={
        401: "No ingest key.",
        404: "A path that is not served, or no origin configured.",
        410: "An unknown or revoked ingest key.",
        504: "The origin did not answer in time.",
    },
    responses={
        200: {"description": "The file."},
        206: {"description": "The part of the file a `Range` asked for."},
        416: {"description": "A `Range` outside the file.", "content": {"text/plain": {}}},
        "default": {"description": "What the HTTP origin answered, passed through."},
    },
)


@router.get("/media/{ingestKey}/{path:path}", **_ANSWERS)
async def media(
    request: Request,
    auth: AuthDep,
    intake: IntakeDep,
    formats: FormatsDep,
    origin: MediaOriginDep,
    ingest_key: Annotated[str, PathParam(alias="ingestKey", description="The customer's ingest key.")],
    path: Annotated[str, PathParam(description="The media file, relative to the configured origin.")],
) -> Response:
    """A manifest or segment of the configured origin; its CMCD data (request mode) is stored."""
    customer_id = await customer_for_key(auth, ingest_key, "ingestKey")
    relative = safe_relative_path(path)
    if relative is None or (origin.directory is None and origin.url is None):
        raise _not_found(path)
    _read_cmcd(request, customer_id, intake, formats)
    if origin.directory is not None:
        target = origin.file(relative)
        if target is None:
            raise _not_found(path)
        return FileResponse(target, media_type=media_type(relative))
    assert origin.url is not None
    return await _forward(request, origin.url, relative)


router.add_api_route("/media/{ingestKey}/{path:path}", media, methods=["HEAD"], include_in_schema=False, **_ANSWERS)


def _read_cmcd(request: Request, customer_id: int, intake: Intake, formats: Formats) -> None:
    """Queue the request's CMCD data for storing; malformed or unsupported data is dropped."""
    decoded = formats.cmcd_requests.decode(Message(b"", request.headers, request.query_params))
    if decoded.sessions:
        intake.take_soon(formats.cmcd_requests, customer_id, decoded, request_origin(request))
