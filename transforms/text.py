"""Text from Amazon made safe for the OM: PostgreSQL refuses a NUL byte and SQLite cuts the text at it."""

from __future__ import annotations

import polars as pl

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # C0 controls and DEL, but tab and line breaks
BREAKS = r"[\t\n\r]+"


def clean_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column without control characters: NUL and the like removed, tabs and line breaks as one space."""
    text = pl.col(pl.String)
    return frame.with_columns(text.str.replace_all(CONTROL, "").str.replace_all(BREAKS, " "))
