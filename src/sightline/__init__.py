"""Sightline: open-source video quality-of-experience analytics on ClickHouse."""

__version__ = "0.1.0"
