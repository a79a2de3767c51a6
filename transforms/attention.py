"""When something in the operator's morning check needs a person: the thresholds of `omsync status`."""

from __future__ import annotations

from datetime import datetime

import polars as pl

LATE_AFTER_INTERVALS = 3  # a flow is late when its last good run is older than three of its schedule intervals
FEED_PENDING_HOURS = 2  # Amazon processes a listings feed in minutes; hours without a verdict means a stuck feed
SHIP_WITHIN_HOURS = 48  # an Amazon order in the OM this long without a ship confirmation is late
NEEDS_PERSON = ("failed", "late", "never run")  # flow verdicts a person must look at; "problems" shows under open problems


def flow_health(runs: pl.DataFrame, intervals: dict[str, int], now: datetime) -> pl.DataFrame:
    """Per flow its last run, outcome and age, and whether a person must look (failed, late or never run)."""
    last = (runs.sort("started").group_by("flow").agg(pl.all().last())
            .select("flow", "started", "outcome", "message"))
    last_good = runs.filter(pl.col("outcome").is_in(["OK", "OK_WITH_PROBLEMS"])).group_by("flow").agg(last_good=pl.col("started").max())
    expected = pl.DataFrame({"flow": list(intervals), "interval": list(intervals.values())}, schema={"flow": pl.String, "interval": pl.Int64})
    table = expected.join(last, on="flow", how="left").join(last_good, on="flow", how="left")
    age = (pl.lit(now) - pl.col("started")).dt.total_seconds()
    good_age = (pl.lit(now) - pl.col("last_good")).dt.total_seconds()
    return table.with_columns(age_seconds=age).with_columns(
        verdict=pl.when(pl.col("started").is_null()).then(pl.lit("never run"))
        .when(pl.col("outcome") == "FAILED").then(pl.lit("failed"))
        .when(pl.col("last_good").is_null() | (good_age > pl.col("interval") * LATE_AFTER_INTERVALS)).then(pl.lit("late"))
        .when(pl.col("outcome") == "OK_WITH_PROBLEMS").then(pl.lit("problems"))
        .otherwise(pl.lit("ok"))
    ).select("flow", "started", "outcome", "age_seconds", "verdict", "message")


def orders_lag_needs_person(lag_seconds: float | None, orders_interval: int) -> bool:
    """Orders in the OM lag Amazon by more than three orders intervals (or were never imported)."""
    return lag_seconds is None or lag_seconds > orders_interval * LATE_AFTER_INTERVALS


def stuck_feeds(pending: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Submissions (attribute, feed_id, sent_at) still without Amazon's verdict after FEED_PENDING_HOURS."""
    return pending.filter((pl.lit(now) - pl.col("sent_at")).dt.total_seconds() > FEED_PENDING_HOURS * 3600)


def late_shipments(imported: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Merchant-fulfilled orders (amazon_order_id, imported_at, fulfilled_by, confirmed) in the OM over SHIP_WITHIN_HOURS, unconfirmed."""
    return imported.filter(
        (pl.col("fulfilled_by").fill_null("MERCHANT") != "AMAZON") & ~pl.col("confirmed")
        & ((pl.lit(now) - pl.col("imported_at")).dt.total_seconds() > SHIP_WITHIN_HOURS * 3600)
    )
