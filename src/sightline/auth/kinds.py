"""The roles of users and the kinds of keys (no imports, so the CLI can build its parser cheaply)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role, carried by its principal: viewers read; routes that change things require admin."""

    VIEWER = "viewer"
    ADMIN = "admin"


class KeyKind(StrEnum):
    """API keys read a customer's data (`X-API-Key`); ingest keys, public in players, only write beacons."""

    API = "api"
    INGEST = "ingest"
