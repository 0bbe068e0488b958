"""The built portal as the app serves it: `index.html` and the files it loads, read once at start.

Invariants: only files the build wrote into `static/` are served, by their exact names (no path is ever
joined from a request); file names other than `index.html` carry a hash of their content (esbuild's), so
they are cached for good, while `index.html` is revalidated on every load. A file's gzip copy (`.gz`,
written by the build) is served to clients that accept gzip.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

INDEX = "index.html"
GZIP_SUFFIX = ".gz"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",  # the bundled packages' licences (esbuild's .LEGAL.txt)
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class PortalBundle:
    """The built files by name; empty when the portal was not built (`make portal`)."""

    files: dict[str, Asset]

    @property
    def built(self) -> bool:
        return INDEX in self.files


def _media_type(name: str) -> str | None:
    return next((media for suffix, media in MEDIA_TYPES.items() if name.endswith(suffix)), None)


def load_bundle(directory: Traversable | None = None) -> PortalBundle:
    """The files of `directory` (the package's `static/` by default) whose type the portal serves."""
    root = directory if directory is not None else resources.files("sightline.portal") / "static"
    entries = {entry.name: entry for entry in root.iterdir() if entry.is_file()} if root.is_dir() else {}
    files = {}
    for name, entry in entries.items():
        media_type = _media_type(name)
        if media_type is None:
            continue
        body = entry.read_bytes()
        gzipped = entries.get(name + GZIP_SUFFIX)
        files[name] = Asset(
            body,
            gzipped.read_bytes() if gzipped is not None else None,
            media_type,
            '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        )
    return PortalBundle(files)
