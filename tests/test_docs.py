"""The documents generated from the catalog are up to date (run `make docs` when this fails)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sightline.docs import DOCUMENTS

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_generated_document_is_fresh(name: str) -> None:
    assert (DOCS / name).read_text() == DOCUMENTS[name](), f"docs/{name} is stale: run `make docs`"
