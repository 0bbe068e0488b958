"""Beacon formats, validation, normalisation into the store's columnar layout."""
