"""The ops tables keyed by marketplace, listing state long, and the migration of today's warehouses."""

from decimal import Decimal

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omsync.connectors import ops
from omsync.connectors.warehouse_schema import MIGRATIONS
from omsync.transforms.feed_reports import VERDICT_SCHEMA

US, DE, FR = "ATVPDKIKX0DER", "A1PA6795UKMFR9", "A13V1IB3VIYZZH"
KEYED = 5  # the migration that made marketplace a key


def warehouse(up_to: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for version, sql in MIGRATIONS:
        if up_to is None or version <= up_to:
            con.execute(sql)
    return con


def sent(rows, value_type=pl.Int64) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"sku": pl.String, "product_type": pl.String, "value": value_type, "feed_id": pl.String,
                                      "message_id": pl.Int64}, orient="row")


def verdicts(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=VERDICT_SCHEMA, orient="row")


def as_dict(frame: pl.DataFrame) -> dict:
    return {row[0]: row[1:] for row in frame.rows()}


@pytest.fixture
def con():
    return warehouse()


def test_a_wide_listing_state_migrates_to_one_row_per_attribute_and_reads_the_same():
    con = warehouse(up_to=KEYED - 1)
    con.execute("""
        INSERT INTO ops.listing_state (sku, product_type, quantity_sent, quantity_accepted, quantity_feed_id, quantity_message_id,
                                       quantity_verdict, price_sent, price_accepted, price_feed_id, price_message_id, price_verdict)
        VALUES ('BOTH', 'SHIRT', 5, 4, 'f1', 1, 'PENDING', 19.99, 18.5, 'f2', 3, 'ACCEPTED'),
               ('QTY', 'MUG', 0, 0, 'f1', 2, 'ACCEPTED', NULL, NULL, NULL, NULL, NULL),
               ('PRICE', 'MUG', NULL, NULL, NULL, NULL, NULL, 7.25, NULL, 'f2', 4, 'REJECTED')""")
    wide_before = con.execute("SELECT * FROM ops.listing_state ORDER BY sku").pl()
    con.execute(dict(MIGRATIONS)[KEYED])

    assert con.execute("SELECT attribute, count(*) FROM ops.listing_state GROUP BY 1 ORDER BY 1").fetchall() == [("price", 2), ("quantity", 2)]
    assert as_dict(ops.read_listing_state(con, "quantity", US)) == {"BOTH": (5, 4, "PENDING"), "QTY": (0, 0, "ACCEPTED")}
    assert as_dict(ops.read_listing_state(con, "price", US)) == {
        "BOTH": (Decimal("19.99"), Decimal("18.5"), "ACCEPTED"), "PRICE": (Decimal("7.25"), None, "REJECTED")}
    wide_after = con.execute("SELECT * EXCLUDE (marketplace_id) FROM ops.listing_state_wide ORDER BY sku").pl()
    assert wide_after.select(wide_before.columns).equals(wide_before), "the analysts' wide view shows what the table showed"
    assert ops.pending_feeds(con, "quantity", US) == ["f1"]


def test_rows_from_before_the_migration_belong_to_the_first_marketplace_that_writes():
    con = warehouse(up_to=KEYED - 1)
    con.execute("INSERT INTO ops.listing_state (sku, product_type, quantity_sent, quantity_accepted, quantity_verdict) VALUES ('A', 'P', 3, 3, 'ACCEPTED')")
    con.execute("INSERT INTO ops.watermarks VALUES ('orders', 'lastUpdatedBefore', '2026-11-01T00:00:00Z', now())")
    con.execute(dict(MIGRATIONS)[KEYED])
    ops.record_sent(con, "quantity", DE, sent([("B", "P", 1, "f9", 1)]))
    assert as_dict(ops.read_listing_state(con, "quantity", DE)) == {"A": (3, 3, "ACCEPTED"), "B": (1, None, "PENDING")}
    assert ops.read_listing_state(con, "quantity", FR).is_empty(), "once claimed, the old rows are DE's only"
    assert ops.read_watermark(con, "orders", "lastUpdatedBefore", [DE]) == "2026-11-01T00:00:00Z"


def test_each_marketplace_keeps_its_own_listing_state(con):
    ops.record_sent(con, "quantity", DE, sent([("SKU", "P", 5, "feed-de", 1)]))
    ops.record_sent(con, "quantity", FR, sent([("SKU", "P", 7, "feed-fr", 1)]))
    ops.record_verdicts(con, "quantity", "feed-de", verdicts([("SKU", "ACCEPTED", None)]))
    assert as_dict(ops.read_listing_state(con, "quantity", DE)) == {"SKU": (5, 5, "ACCEPTED")}
    assert as_dict(ops.read_listing_state(con, "quantity", FR)) == {"SKU": (7, None, "PENDING")}
    assert ops.pending_feeds(con, "quantity", DE) == [] and ops.pending_feeds(con, "quantity", FR) == ["feed-fr"]


def test_a_resend_replaces_the_pending_value_and_keeps_what_amazon_accepted(con):
    ops.record_sent(con, "price", US, sent([("SKU", "P", Decimal("10.00"), "f1", 1)], pl.Decimal(18, 4)))
    ops.record_verdicts(con, "price", "f1", verdicts([("SKU", "ACCEPTED", None)]))
    ops.record_sent(con, "price", US, sent([("SKU", "P", Decimal("12.50"), "f2", 4)], pl.Decimal(18, 4)))
    ops.record_verdicts(con, "price", "f1", verdicts([("SKU", "REJECTED", "late verdict of a superseded feed")]))
    assert as_dict(ops.read_listing_state(con, "price", US)) == {"SKU": (Decimal("12.50"), Decimal("10.00"), "PENDING")}
    assert ops.skus_of_feed(con, "price", "f2").rows() == [("SKU", 4)]
    assert con.execute("SELECT count(*) FROM ops.listing_state").fetchone()[0] == 1


def test_a_new_attribute_is_a_new_row_not_a_new_column(con):
    ops.record_sent(con, "handling_time", US, sent([("SKU", "P", 2, "f1", 1)]))
    ops.record_sent(con, "quantity", US, sent([("SKU", "P", 9, "f1", 2)]))
    assert con.execute("SELECT attribute, sent FROM ops.listing_state ORDER BY 1").fetchall() == [("handling_time", "2"), ("quantity", "9")]


def test_watermarks_are_per_marketplace_and_a_new_marketplace_starts_from_the_beginning(con):
    ops.save_watermark(con, "orders", "lastUpdatedBefore", [US], "2026-11-02T00:00:00Z")
    assert ops.read_watermark(con, "orders", "lastUpdatedBefore", [US]) == "2026-11-02T00:00:00Z"
    assert ops.read_watermark(con, "orders", "lastUpdatedBefore", [US, "A2EUQ1WTGCTBG2"]) is None
    ops.save_watermark(con, "orders", "lastUpdatedBefore", [US, "A2EUQ1WTGCTBG2"], "2026-11-03T00:00:00Z")
    ops.save_watermark(con, "orders", "lastUpdatedBefore", [US], "2026-11-04T00:00:00Z")
    assert ops.read_watermark(con, "orders", "lastUpdatedBefore", [US, "A2EUQ1WTGCTBG2"]) == "2026-11-03T00:00:00Z", "the oldest"
    assert con.execute("SELECT count(*) FROM ops.watermarks").fetchone()[0] == 2


def test_held_prices_are_per_marketplace(con):
    held = pl.DataFrame({"sku": ["SKU"], "price": [Decimal("1.00")], "previous": [Decimal("10.00")], "change_percent": [-90.0]},
                        schema_overrides={"price": pl.Decimal(18, 4), "previous": pl.Decimal(18, 4)})
    ops.record_held_prices(con, DE, held)
    ops.record_held_prices(con, FR, held)
    assert ops.approve_prices(con, DE, ["SKU"])["sku"].to_list() == ["SKU"]
    assert ops.approved_prices(con, DE)["sku"].to_list() == ["SKU"] and ops.approved_prices(con, FR).is_empty()
    ops.record_held_prices(con, DE, held)  # the same price again: still approved, not held anew
    assert ops.approved_prices(con, DE).height == 1
    ops.release_prices(con, DE, pl.Series(["SKU"]))
    assert dict(con.execute("SELECT marketplace_id, status FROM ops.price_guard").fetchall()) == {DE: "RELEASED", FR: "HELD"}


def test_an_order_keeps_its_ids_and_match_rule_once_known(con):
    schema = {"marketplace_id": pl.String, "order_id": pl.String, "status": pl.String, "fulfilled_by": pl.String,
              "last_updated": pl.Datetime("us", "UTC"), "import_state": pl.String, "reason": pl.String,
              "sales_order_id": pl.Int64, "customer_id": pl.Int64, "match_rule": pl.String}
    first = pl.DataFrame([(US, "111-1", "UNSHIPPED", "MERCHANT", None, "IMPORTED", None, 7, 3, "email")], schema=schema, orient="row")
    later = pl.DataFrame([(US, "111-1", "CANCELLED", "MERCHANT", None, "CANCELLED", None, None, None, None),
                          (US, "111-2", "PENDING", "MERCHANT", None, "PENDING", None, None, None, None)], schema=schema, orient="row")
    ops.record_orders(con, first)
    ops.record_orders(con, later)
    rows = con.execute("SELECT amazon_order_id, marketplace_id, sales_order_id, match_rule, amazon_status, imported_at IS NOT NULL "
                       "FROM ops.orders ORDER BY 1").fetchall()
    assert rows == [("111-1", US, 7, "email", "CANCELLED", True), ("111-2", US, None, None, "PENDING", False)]
    con.execute("UPDATE ops.orders SET import_state = 'WAITING' WHERE amazon_order_id = '111-2'")
    assert ops.waiting_orders(con, [US]) == ["111-2"] and ops.waiting_orders(con, [DE]) == []


SHARED = warehouse()  # one warehouse for every example: migrating a fresh one costs more than the example


@settings(max_examples=25, deadline=None)
@given(values=st.dictionaries(st.text("ABC-ü", min_size=1, max_size=4),
                              st.decimals(min_value=0, max_value=Decimal("99999999999999.9999"), places=4, allow_nan=False), max_size=8))
def test_a_value_stored_as_text_reads_back_exactly_once_accepted(values):
    """Listing values are kept as text in the long table: every price and quantity must come back unchanged."""
    con = SHARED
    con.execute("DELETE FROM ops.listing_state")
    prices = sent([(sku, "P", price, "f1", n) for n, (sku, price) in enumerate(values.items(), start=1)], pl.Decimal(18, 4))
    quantities = prices.with_columns(value=pl.col("value").cast(pl.Int64))
    ops.record_sent(con, "price", US, prices)
    ops.record_sent(con, "quantity", US, quantities)
    accepted = verdicts([(sku, "ACCEPTED", None) for sku in values])
    ops.record_verdicts(con, "price", "f1", accepted)
    ops.record_verdicts(con, "quantity", "f1", accepted)
    price_state = ops.read_listing_state(con, "price", US)
    assert dict(price_state.select("sku", "price_accepted").rows()) == values
    quantity_state = ops.read_listing_state(con, "quantity", US)
    assert dict(quantity_state.select("sku", "quantity_accepted").rows()) == dict(quantities.select("sku", "value").rows())
