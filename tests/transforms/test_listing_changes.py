"""The inventory delta: which SKUs Amazon must hear about, and which zeros go first."""

import json

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from omsync.transforms.listing_changes import STATE_SCHEMAS, quantity_messages, select_quantity_changes, urgent_zeros

QUANTITIES = {"sku": pl.String, "product_type": pl.String, "quantity": pl.Int64, "included": pl.Boolean}


def quantities(rows: list[tuple[str, int, bool]]) -> pl.DataFrame:
    return pl.DataFrame([(sku, "PRODUCT", quantity, included) for sku, quantity, included in rows], schema=QUANTITIES, orient="row")


def state(rows: list[tuple[str, int | None, int | None, str | None]]) -> pl.DataFrame:
    """(sku, quantity sent, quantity accepted, verdict of the last message)"""
    return pl.DataFrame(rows, schema=STATE_SCHEMAS["quantity"], orient="row")


def sent(changes: pl.DataFrame) -> dict[str, tuple[int, bool]]:
    return {sku: (quantity, leaving) for sku, quantity, leaving in changes.select("sku", "quantity", "leaving").iter_rows()}


def test_only_what_amazon_has_not_accepted_goes_out():
    changes = select_quantity_changes(
        quantities([("SAME", 5, True), ("MORE", 9, True), ("NEW", 3, True), ("REFUSED", 4, True), ("WAITING", 6, True)]),
        state([("SAME", 5, 5, "ACCEPTED"), ("MORE", 7, 7, "ACCEPTED"), ("REFUSED", 4, None, "REJECTED"), ("WAITING", 6, None, "PENDING")]),
    )
    assert sent(changes) == {"MORE": (9, False), "NEW": (3, False), "REFUSED": (4, False), "WAITING": (6, False)}
    assert changes["sku"].to_list() == sorted(changes["sku"]), "feeds are built in SKU order"


def test_full_sends_every_offered_sku_and_nothing_that_left():
    changes = select_quantity_changes(
        quantities([("SAME", 5, True), ("GONE", 0, False)]), state([("SAME", 5, 5, "ACCEPTED"), ("GONE", 0, 0, "ACCEPTED")]), full=True)
    assert sent(changes) == {"SAME": (5, False)}


def test_an_item_leaving_amazon_gets_zero_until_amazon_has_answered_that_zero():
    changes = select_quantity_changes(
        quantities([("LEAVING", 8, False), ("ZERO_PENDING", 8, False), ("ZERO_ACCEPTED", 8, False), ("ZERO_REJECTED", 8, False),
                    ("NEVER_LISTED", 8, False), ("ALREADY_ZERO", 0, False)]),
        state([("LEAVING", 8, 8, "ACCEPTED"), ("ZERO_PENDING", 0, 8, "PENDING"), ("ZERO_ACCEPTED", 0, 0, "ACCEPTED"),
               ("ZERO_REJECTED", 0, 8, "REJECTED"), ("ALREADY_ZERO", 0, 0, "ACCEPTED")]),
    )
    assert sent(changes) == {"LEAVING": (0, True), "ZERO_PENDING": (0, True)}


def test_zeros_that_amazon_shows_as_available_go_first_biggest_first_up_to_the_cap():
    changes = quantities([("A", 0, True), ("B", 0, True), ("C", 0, True), ("D", 0, False), ("E", 4, True)]).with_columns(
        leaving=~pl.col("included"))
    known = state([("A", 3, 3, "ACCEPTED"), ("B", 9, 9, "ACCEPTED"), ("C", 0, 0, "ACCEPTED"), ("D", 5, 5, "ACCEPTED"), ("E", 6, 6, "ACCEPTED")])
    assert urgent_zeros(changes, known, cap=2)["sku"].to_list() == ["B", "D"]
    assert urgent_zeros(changes, known, cap=100)["sku"].to_list() == ["B", "D", "A"]
    assert urgent_zeros(changes, known, cap=0).is_empty()


def test_a_message_merges_the_merchant_fulfilled_quantity():
    message = json.loads(quantity_messages(pl.DataFrame({"sku": ["A-1"], "product_type": ["SHIRT"], "quantity": [7]}))[0])
    assert message == {"sku": "A-1", "operationType": "PATCH", "productType": "SHIRT", "patches": [
        {"op": "merge", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]}]}


SKUS = st.sampled_from([f"S{i}" for i in range(12)])


@settings(max_examples=200, deadline=None)
@given(
    offered=st.dictionaries(SKUS, st.tuples(st.integers(0, 99_999), st.booleans())),
    known=st.dictionaries(SKUS, st.tuples(st.integers(0, 99_999), st.none() | st.integers(0, 99_999),
                                          st.sampled_from([None, "ACCEPTED", "REJECTED", "PENDING", "FATAL"]))),
)
def test_once_amazon_accepts_what_was_sent_the_next_run_sends_nothing(offered, known):
    now = quantities([(sku, quantity, included) for sku, (quantity, included) in offered.items()])
    before = state([(sku, *row) for sku, row in known.items()])
    changes = select_quantity_changes(now, before)
    assert changes["sku"].is_unique().all()
    assert (changes.filter(pl.col("leaving"))["quantity"] == 0).all()
    accepted = {sku: (quantity, quantity, "ACCEPTED") for sku, quantity in changes.select("sku", "quantity").iter_rows()}
    after = state([(sku, *row) for sku, row in {**known, **accepted}.items()])
    assert select_quantity_changes(now, after).is_empty()
