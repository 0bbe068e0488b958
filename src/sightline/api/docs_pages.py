"""The OpenAPI documentation page, `/docs` (Swagger UI).

Invariant: the page asks nothing of another host. Its script, style sheet and icon are files of the
`fastapi-offline` package (Swagger UI 5), a dependency of ours, served by the app at `/docs-assets/`; so
the page works without internet, where FastAPI's own loads them from a CDN. There is no ReDoc page: ReDoc
loads its logo from its CDN whatever it is told.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from sightline.api.access import access
from sightline.auth.plans import PUBLIC

ASSETS_URL = "/docs-assets"
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


def include_docs_pages(app: FastAPI) -> None:
    """Serve the page and its files; `app` was made with `docs_url=None, redoc_url=None`."""
    openapi_url, redirect_url = app.openapi_url or "/openapi.json", app.swagger_ui_oauth2_redirect_url
    app.mount(ASSETS_URL, StaticFiles(directory=_ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False, **access(PUBLIC))
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=redirect_url,
        )

    if redirect_url:

        @app.get(redirect_url, include_in_schema=False, **access(PUBLIC))
        async def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()
