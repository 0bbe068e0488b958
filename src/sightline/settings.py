"""Settings read from the environment (`SIGHTLINE_*`) or passed by the CLI."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. `store_url` "chdb://" means the embedded engine in `data_dir`."""

    model_config = SettingsConfigDict(env_prefix="SIGHTLINE_", frozen=True)

    data_dir: Path = Path("./sightline-data")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    store_url: str = "chdb://"
    query_sessions: int = Field(default=2, ge=1, le=16, description="Parallel query sessions of the store.")
    query_time_limit_s: float = Field(default=200.0, gt=0, description="Engine-enforced limit per query.")
    query_memory_limit_bytes: int = Field(default=4 * 1024**3, gt=0, description="Engine-enforced limit per query.")
    writer_max_rows: int = Field(default=100_000, ge=1, description="Rows that make the writer flush at once.")
    writer_max_delay_s: float = Field(default=1.0, gt=0, description="Longest a row waits in the writer.")
