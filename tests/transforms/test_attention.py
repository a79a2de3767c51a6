"""The thresholds of `omsync status`: when a person must look."""

from datetime import datetime, timedelta, timezone

import polars as pl

from omsync.transforms import attention

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)
RUNS_SCHEMA = {"flow": pl.String, "started": pl.Datetime("us", "UTC"), "outcome": pl.String, "message": pl.String}


def runs(*rows):
    return pl.DataFrame([dict(zip(RUNS_SCHEMA, r)) for r in rows], schema=RUNS_SCHEMA)


def test_flow_health_failed_late_never_run_problems_and_ok():
    found = attention.flow_health(runs(
        ("orders", NOW - timedelta(minutes=4), "OK", ""),
        ("prices", NOW - timedelta(hours=2), "OK", ""), ("prices", NOW - timedelta(minutes=1), "FAILED", "Amazon down"),
        ("inventory", NOW - timedelta(hours=1), "OK", ""),  # every 15 min: 45 min without a good run is late
        ("shipments", NOW - timedelta(minutes=10), "OK_WITH_PROBLEMS", "2 problems"),
    ), {"orders": 300, "prices": 3600, "inventory": 900, "shipments": 900, "settlement": 21600}, NOW)
    verdicts = dict(found.select("flow", "verdict").iter_rows())
    assert verdicts == {"orders": "ok", "prices": "failed", "inventory": "late", "shipments": "problems", "settlement": "never run"}
    assert found.filter(pl.col("flow") == "prices")["age_seconds"][0] == 60
    assert {f for f, v in verdicts.items() if v in attention.NEEDS_PERSON} == {"prices", "inventory", "settlement"}


def test_a_flow_that_only_ever_failed_is_failed_and_one_that_recovered_is_ok():
    found = attention.flow_health(runs(("orders", NOW - timedelta(minutes=9), "FAILED", "x"),
                                       ("orders", NOW - timedelta(minutes=2), "OK", "")), {"orders": 300}, NOW)
    assert found["verdict"].to_list() == ["ok"]


def test_orders_lag_needs_a_person_after_three_intervals_or_when_never_imported():
    assert not attention.orders_lag_needs_person(899, 300)
    assert attention.orders_lag_needs_person(901, 300)
    assert attention.orders_lag_needs_person(None, 300)


def test_stuck_feeds_are_those_without_a_verdict_for_two_hours():
    pending = pl.DataFrame({"attribute": ["price", "quantity"], "feed_id": ["F1", "F2"],
                            "sent_at": [NOW - timedelta(hours=3), NOW - timedelta(minutes=5)]})
    assert attention.stuck_feeds(pending, NOW)["feed_id"].to_list() == ["F1"]


def test_late_shipments_are_merchant_orders_unconfirmed_after_48_hours():
    orders = pl.DataFrame({
        "amazon_order_id": ["old", "fba", "confirmed", "new", "unknown-channel"],
        "imported_at": [NOW - timedelta(hours=49)] * 3 + [NOW - timedelta(hours=1), NOW - timedelta(hours=50)],
        "fulfilled_by": ["MERCHANT", "AMAZON", "MERCHANT", "MERCHANT", None],
        "confirmed": [False, False, True, False, False],
    })
    assert attention.late_shipments(orders, NOW)["amazon_order_id"].to_list() == ["old", "unknown-channel"]
