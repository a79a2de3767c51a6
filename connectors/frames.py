"""Polars frames handed to DuckDB SQL by name (zero-copy through Arrow)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import duckdb
import polars as pl


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> Iterator[None]:
    """A Polars frame visible to SQL as `name` for the duration of the block."""
    con.register(name, frame)
    try:
        yield
    finally:
        con.unregister(name)
