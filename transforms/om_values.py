"""OM values that are not of their column's type (SQLite stores any value anywhere): found by the
OM's typed views (`unreadable`: each such value as stored), quarantined by the flow that reads them."""

from __future__ import annotations

import polars as pl

UNREADABLE = "unreadable"
QUARANTINE_SCHEMA = {"key": pl.String, "raw_value": pl.String, "reason": pl.String}


def unreadable_rows(frame: pl.DataFrame, key: pl.Expr, consequence: str) -> pl.DataFrame:
    """The rows holding a value of the wrong type, each with that value as stored and what was done instead."""
    if UNREADABLE not in frame.columns:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return frame.filter(pl.col(UNREADABLE).is_not_null()).select(
        key=key, raw_value=pl.col(UNREADABLE),
        reason=pl.lit(f"a value is not of its column's type: {consequence}; correct it in the OM"),
    ).cast(QUARANTINE_SCHEMA)
