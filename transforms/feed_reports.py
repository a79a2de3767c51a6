"""Amazon's verdict on each SKU of a listings feed, from its processing report."""

from __future__ import annotations

import polars as pl

VERDICT_SCHEMA = {"sku": pl.String, "verdict": pl.String, "issues": pl.String}


def feed_verdicts(sent: pl.DataFrame, status: str, report: dict | None) -> pl.DataFrame:
    """ACCEPTED or REJECTED (with Amazon's messages) per SKU (sent: sku, message_id) of a DONE feed;
    FATAL for every SKU of a feed Amazon aborted or cancelled, whose messages may or may not have applied."""
    frame = sent.select("sku", pl.col("message_id").cast(pl.Int64))
    if status != "DONE" or report is None:
        reason = "; ".join(i.get("message", "") for i in (report or {}).get("issues", [])) or f"feed ended {status}"
        return frame.select("sku", verdict=pl.lit("FATAL"), issues=pl.lit(reason)).cast(VERDICT_SCHEMA)
    issues = pl.DataFrame(
        [i for i in report.get("issues", []) if i.get("messageId") is not None],
        schema={"messageId": pl.Int64, "severity": pl.String, "code": pl.String, "message": pl.String},
    )
    per_message = issues.group_by("messageId").agg(
        error=(pl.col("severity") == "ERROR").any(),
        issues=pl.format("{} {}: {}", pl.col("severity"), pl.col("code"), pl.col("message")).str.join("; "),
    )
    return frame.join(per_message, left_on="message_id", right_on="messageId", how="left").select(
        "sku", verdict=pl.when(pl.col("error")).then(pl.lit("REJECTED")).otherwise(pl.lit("ACCEPTED")), issues="issues",
    ).cast(VERDICT_SCHEMA)
