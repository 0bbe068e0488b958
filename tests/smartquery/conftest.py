"""The named queries' stored days read partition versions, which each backend answers in its own way: the tests
that take `store` run on every backend (the store contract suite's fixtures, tests/store/conftest.py)."""

from tests.store.conftest import backend, open_backend, store

__all__ = ["backend", "open_backend", "store"]
