"""`GET /sdk/sightline.js`: the browser SDK (src/sightline/sdk/sightline.js, docs/sdk.md).

Served as `text/javascript` with a strong ETag (a hash of the file) and a cache lifetime of
`MAX_AGE_S`, so that pages pick up a new release within minutes and otherwise revalidate with a 304.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Header, Response

from sightline.api.access import access
from sightline.auth.plans import PUBLIC

router = APIRouter(tags=["sdk"])
MAX_AGE_S = 300
MEDIA_TYPE = "text/javascript; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    etag: str


def load_sdk() -> Asset:
    """The SDK's source as packaged, with its ETag."""
    body = (resources.files("sightline") / "sdk" / "sightline.js").read_bytes()
    return Asset(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


SDK = load_sdk()


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against each listed tag, or `*`."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


@router.get(
    "/sdk/sightline.js",
    response_class=Response,
    **access(
        PUBLIC,
        responses={
            200: {"content": {"text/javascript": {}}, "description": "The SDK."},
            304: {"description": "The copy the client holds (If-None-Match) is current."},
        },
    ),
)
async def sightline_js(if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The browser SDK, to load with `<script src>` from any origin."""
    headers = {
        "ETag": SDK.etag,
        "Cache-Control": f"public, max-age={MAX_AGE_S}",
        "Cross-Origin-Resource-Policy": "cross-origin",  # loadable by pages that require it (COEP)
    }
    if if_none_match is not None and _matches(if_none_match, SDK.etag):
        return Response(status_code=304, headers=headers)
    return Response(SDK.body, media_type=MEDIA_TYPE, headers=headers)


router.add_api_route("/sdk/sightline.js", sightline_js, methods=["HEAD"], include_in_schema=False, **access(PUBLIC))
