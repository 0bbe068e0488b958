"""`GET /` (the portal's page) and `GET /portal/{name}` (its scripts and style sheets).

`POST /` stays the mux-embed collector (api/mux.py): the two share the path, not the method. The page is
answered with a Content-Security-Policy that lets it load and call only this origin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import HTMLResponse

from sightline.api.access import access
from sightline.api.errors import ApiError
from sightline.auth.plans import PUBLIC
from sightline.portal.assets import INDEX, Asset, PortalBundle, load_bundle

ASSETS_PATH = "/portal"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
NOT_BUILT = (
    "<!doctype html><html lang=en><title>Sightline</title><main><h1>The portal is not built</h1>"
    "<p>Run <code>make portal</code> (or <code>make demo</code>) in Sightline's repository, then reload.</p></main>"
)


def _answer(asset: Asset, accept_encoding: str | None, if_none_match: str | None, cache: str) -> Response:
    headers = {
        "ETag": asset.etag,
        "Cache-Control": cache,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if if_none_match is not None and asset.etag in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    if asset.gzipped is not None and "gzip" in (accept_encoding or "").lower():
        return Response(asset.gzipped, media_type=asset.media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def portal_router(bundle: PortalBundle | None = None) -> APIRouter:
    """The portal's routes over `bundle` (the package's built files by default)."""
    files = (bundle or load_bundle()).files
    router = APIRouter(tags=["portal"], include_in_schema=False)

    @router.get("/", response_class=HTMLResponse, **access(PUBLIC))
    async def portal_page(
        accept_encoding: Annotated[str | None, Header()] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        """The portal; its state (page, customer, period, filters) is in the query string, read by the page."""
        page = files.get(INDEX)
        if page is None:
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Retry-After": "60"})
        answer = _answer(page, accept_encoding, if_none_match, "no-cache")
        answer.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        answer.headers["Referrer-Policy"] = "no-referrer"
        return answer

    @router.get(ASSETS_PATH + "/{name}", **access(PUBLIC, 404))
    async def portal_asset(
        name: str,
        accept_encoding: Annotated[str | None, Header()] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        """A built script or style sheet, by its content-hashed name: cached for a year."""
        asset = files.get(name)
        if asset is None or name == INDEX:
            raise ApiError(404, "not_found", f"the portal has no file {name!r}", "name")
        return _answer(asset, accept_encoding, if_none_match, "public, max-age=31536000, immutable")

    router.add_api_route("/", portal_page, methods=["HEAD"], include_in_schema=False, **access(PUBLIC))
    return router
