"""Flattening Amazon orders, deciding what to import, and where to hold stock."""

import io
import json
from decimal import Decimal

import polars as pl

from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.orders import order_json
from omsync.transforms.orders import ORDER_SCHEMA, choose_hold_sites, flatten_lines, flatten_orders, latest_versions, plan_orders

EVERYTHING = {"BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES"}


def sandbox_orders(count=30, release=True):
    market = Marketplace(seed=9)
    market.add_listings([{"sku": f"SKU-{i}", "productType": "HOME", "quantity": 90, "price": f"{10 + i}.49"} for i in range(6)])
    market.place_orders(count)
    if release:
        market.advance(4 * 3600)
    documents = [order_json(o, market.info, EVERYTHING) for o in market.state.orders.values()]
    return market, pl.read_ndjson(io.StringIO("\n".join(json.dumps(d) for d in documents)), schema=ORDER_SCHEMA)


def test_money_comes_from_proceeds_and_adds_up():
    market, raw = sandbox_orders()
    orders, lines = flatten_orders(raw), flatten_lines(raw)
    assert orders["subtotal"].dtype == pl.Decimal(18, 4)
    released = orders.filter(pl.col("status") != "CANCELLED")
    assert (released["subtotal"] + released["shipping"] + released["tax"] - released["discount"] == released["total"]).all()
    per_order = lines.group_by("order_id").agg(pl.col("line_total").sum())
    joined = released.join(per_order, on="order_id")
    assert (joined["subtotal"] == joined["line_total"]).all()
    some = market.state.orders[lines["order_id"][0]]
    first = lines.filter(pl.col("order_id") == some.order_id).sort("line_no")
    assert first["order_item_id"].to_list() == sorted(l.order_item_id for l in some.lines)
    assert first["unit_price"][0] == some.lines[0].unit_price


def test_pending_orders_have_no_money_yet():
    _, raw = sandbox_orders(count=5, release=False)
    orders = flatten_orders(raw)
    assert set(orders["status"]) == {"PENDING"} and orders["total"].is_null().all() and orders["buyer_email"].is_null().all()


def test_the_latest_version_of_an_order_wins():
    _, raw = sandbox_orders(count=3)
    older = raw.with_columns(lastUpdatedTime=pl.lit("2000-01-01T00:00:00Z"), orderItems=pl.lit(None, ORDER_SCHEMA["orderItems"]))
    assert latest_versions(pl.concat([raw, older])).sort("orderId").equals(latest_versions(raw).sort("orderId"))


def test_the_plan_imports_waits_cancels_and_records():
    _, raw = sandbox_orders(count=40)
    orders, lines = flatten_orders(raw), flatten_lines(raw)
    items = pl.DataFrame({"item_id": range(1, 6), "item_code": [f"SKU-{i}" for i in range(5)]})  # SKU-5 unknown to the OM
    imported_before = orders.filter(pl.col("status") == "CANCELLED")["order_id"].head(1)
    plan = plan_orders(orders, lines, items, imported_before)
    waiting_ids = set(lines.filter(pl.col("sku") == "SKU-5")["order_id"])
    assert set(plan.waiting["order_id"]) == waiting_ids - set(orders.filter(pl.col("status") == "CANCELLED")["order_id"])
    assert plan.waiting["reason"].str.contains("unknown SKU SKU-5").all()
    assert not set(plan.to_import["order_id"]) & waiting_ids
    assert plan.to_cancel["order_id"].to_list() == imported_before.to_list()
    states = dict(plan.record.select("order_id", "import_state").iter_rows())
    assert all(states[o] == "CANCELLED_BEFORE_IMPORT" for o in orders.filter(pl.col("status") == "CANCELLED")["order_id"] if o not in imported_before)
    assert plan.record.height == orders.height


def test_holds_go_to_the_site_with_most_stock_ties_by_code():
    lines = pl.DataFrame({"order_id": ["A", "B"], "item_id": [1, 2]})
    availability = pl.DataFrame({"item_id": [1, 1, 1, 2, 2], "site_id": [10, 11, 12, 10, 11], "code": ["DAL", "CHI", "NJ1", "DAL", "CHI"],
                                 "available": [5, 9, 9, 3, 3]})
    assert dict(choose_hold_sites(lines, availability).select("order_id", "site_id").iter_rows()) == {"A": 11, "B": 11}


def test_discount_is_a_positive_amount_taken_off():
    _, raw = sandbox_orders(count=60)
    orders = flatten_orders(raw).filter(pl.col("discount") > 0)
    assert orders.height and (orders["discount"] > Decimal(0)).all()
