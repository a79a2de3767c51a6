"""The orders flow's rules: Amazon-fulfilled orders closed and shipped, which lines hold stock, which
cancellations the OM follows, what each order became and what goes to quarantine."""

import polars as pl

from omsync.transforms.orders import (CANCELLED_AFTER_SHIPPING, as_om_lines, as_om_orders, cancellable, lines_to_hold, order_outcomes,
                               order_problems, shipped_before_cancel)

ORDERS = pl.DataFrame({"order_id": ["A", "M"], "fulfilled_by": ["AMAZON", "MERCHANT"]})
LINES = pl.DataFrame({"order_id": ["A", "M", "M", "X"], "line_no": [1, 1, 2, 1], "sku": ["S1", "S1", "S2", "S1"], "quantity": [2, 3, 1, 5]})
ITEMS = pl.DataFrame({"item_id": [10, 20], "item_code": ["S1", "S2"]})


def test_an_amazon_fulfilled_order_is_closed_in_the_om_at_once():
    assert dict(as_om_orders(ORDERS).select("order_id", "om_status").iter_rows()) == {"A": "closed", "M": "open"}


def test_an_amazon_fulfilled_line_counts_as_shipped_in_full_and_only_merchant_lines_hold_stock():
    lines = as_om_lines(LINES, ORDERS, ITEMS).sort("order_id", "line_no")
    assert lines.select("order_id", "item_id", "qty_shipped").rows() == [("A", 10, 2), ("M", 10, 0), ("M", 20, 0)], "order X is not in this batch"
    assert lines_to_hold(lines)["order_id"].to_list() == ["M", "M"]


FOUND = pl.DataFrame({"order_id": ["open", "shipped", "gone", "partly"], "sales_order_id": [1, 2, 3, 4],
                      "status": ["open", "open", "cancelled", "closed"], "shipped": [False, True, False, True]})


def test_a_cancellation_is_followed_only_for_open_orders_nothing_of_which_shipped():
    assert cancellable(FOUND)["order_id"].to_list() == ["open"]


def test_an_order_cancelled_after_the_om_shipped_it_goes_to_a_person():
    assert shipped_before_cancel(FOUND)["order_id"].to_list() == ["shipped", "partly"]


def test_order_outcomes_mark_cancelled_after_shipping_and_its_problem_is_quarantined():
    record = pl.DataFrame({"order_id": ["A", "B", "C"], "status": ["SHIPPED", "UNSHIPPED", "CANCELLED"], "import_state": ["IMPORTED", "WAITING", "CANCELLED"]})
    waiting = pl.DataFrame({"order_id": ["B"], "reason": ["unknown SKU X"]})
    ids = pl.DataFrame({"order_id": ["A"], "sales_order_id": [7], "customer_id": [70]})
    rules = pl.DataFrame({"order_id": ["A"], "match_rule": ["EMAIL"]})
    outcomes = order_outcomes(record, waiting, ids, rules, pl.Series(["C"])).sort("order_id")
    assert outcomes.select("order_id", "import_state", "sales_order_id", "match_rule").rows() == [
        ("A", "IMPORTED", 7, "EMAIL"), ("B", "WAITING", None, None), ("C", "CANCELLED_AFTER_SHIPPING", None, None)]
    assert order_problems(outcomes).sort("key").rows() == [("B", "UNSHIPPED", "unknown SKU X"), ("C", "CANCELLED", CANCELLED_AFTER_SHIPPING)]
