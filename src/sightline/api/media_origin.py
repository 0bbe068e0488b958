"""Where the media pass-through (`api/media.py`) takes its files from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sightline.settings import Settings


@dataclass(frozen=True)
class MediaOrigin:
    """Where media comes from: a directory, or an HTTP origin (a directory wins when both are set)."""

    directory: Path | None
    url: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaOrigin:
        directory = settings.media_origin_dir.resolve() if settings.media_origin_dir else None
        return cls(directory, settings.media_origin_url.rstrip("/") if settings.media_origin_url else None)

    def file(self, relative: PurePosixPath) -> Path | None:
        """The file of the directory at `relative`, if it is one and resolves inside the directory."""
        if self.directory is None:
            return None
        target = (self.directory / relative).resolve()
        return target if target.is_relative_to(self.directory) and target.is_file() else None
