"""The scorecard: every figure on a small scenario whose value is known by construction, so the card
cannot report 0 for a problem that happened (and reports n/a where the sandbox cannot show it)."""

from datetime import date, datetime, timedelta, timezone

import polars as pl

from omsync.transforms import scorecard
from omsync.transforms.scorecard import NA_SANDBOX

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
UTC = pl.Datetime("us", "UTC")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def orders(*rows) -> pl.DataFrame:
    """(order_id, created min, updated min, status, fulfilled_by, buyer_email)"""
    return pl.DataFrame([{"order_id": o, "created": at(c), "updated": at(u), "status": s, "fulfilled_by": f, "buyer_email": e}
                         for o, c, u, s, f, e in rows], schema={"order_id": pl.String, "created": UTC, "updated": UTC, "status": pl.String,
                                                              "fulfilled_by": pl.String, "buyer_email": pl.String})


def lines(*rows) -> pl.DataFrame:
    return pl.DataFrame([{"order_id": o, "sku": s, "qty": q} for o, s, q in rows], schema={"order_id": pl.String, "sku": pl.String, "qty": pl.Int64})


def commits(*rows) -> pl.DataFrame:
    return pl.DataFrame([{"order_id": o, "committed_at": at(m)} for o, m in rows], schema={"order_id": pl.String, "committed_at": UTC})


def stock(*rows, backorderable=False, reserved=0) -> pl.DataFrame:
    """(minute, sku, free, price); the OM's rules offer `reserved` units fewer than are free"""
    return pl.DataFrame([{"at": at(m), "sku": s, "free": f, "target": f - reserved, "price": p, "backorderable": backorderable, "offered": True}
                         for m, s, f, p in rows], schema={"at": UTC, "sku": pl.String, "free": pl.Int64, "target": pl.Int64, "price": pl.Float64,
                                                          "backorderable": pl.Boolean, "offered": pl.Boolean})


def listings(*rows) -> pl.DataFrame:
    """(minute, sku, quantity, price)"""
    return pl.DataFrame([{"at": at(m), "sku": s, "quantity": q, "price": p} for m, s, q, p in rows],
                        schema={"at": UTC, "sku": pl.String, "quantity": pl.Int64, "price": pl.Float64})


def om_orders(*rows) -> pl.DataFrame:
    return pl.DataFrame([{"order_id": o, "customer_id": c, "om_status": s} for o, c, s in rows],
                        schema={"order_id": pl.String, "customer_id": pl.Int64, "om_status": pl.String})


def test_oversold_counts_the_one_order_beyond_free_stock():
    # 2 free; order A takes 2 (covered), order B takes 1 before the OM holds A: B is oversold by 1
    o = orders(("A", 1, 1, "UNSHIPPED", "MERCHANT", None), ("B", 2, 2, "UNSHIPPED", "MERCHANT", None))
    card = scorecard.oversold(o, lines(("A", "S1", 2), ("B", "S1", 1)), stock((0, "S1", 2, 9.0)), commits(("A", 5), ("B", 5)))
    assert card == {"units": 1, "orders": 1, "skus": 1}


def test_oversold_is_zero_once_the_om_holds_the_earlier_order():
    # A is committed (its hold lowers free to 0 at minute 5, then stock arrives: free 3); B at minute 6 is covered
    o = orders(("A", 1, 1, "UNSHIPPED", "MERCHANT", None), ("B", 6, 6, "UNSHIPPED", "MERCHANT", None))
    card = scorecard.oversold(o, lines(("A", "S1", 2), ("B", "S1", 1)), stock((0, "S1", 2, 9.0), (5, "S1", 3, 9.0)), commits(("A", 5)))
    assert card["units"] == 0


def test_oversold_ignores_amazon_fulfilled_and_backorderable():
    o = orders(("A", 1, 1, "SHIPPED", "AMAZON", None), ("B", 1, 1, "UNSHIPPED", "MERCHANT", None))
    fba = scorecard.oversold(o, lines(("A", "S1", 5)), stock((0, "S1", 0, 9.0)), commits())
    back = scorecard.oversold(o, lines(("B", "S2", 5)), stock((0, "S2", 0, 9.0), backorderable=True), commits())
    assert fba["units"] == 0 and back["units"] == 0


def test_a_cancelled_order_stops_counting_as_sold():
    # A (2 units of 2 free) is cancelled by Amazon at minute 3: B at minute 4 is covered
    o = orders(("A", 1, 3, "CANCELLED", "MERCHANT", None), ("B", 4, 4, "UNSHIPPED", "MERCHANT", None))
    assert scorecard.oversold(o, lines(("A", "S1", 2), ("B", "S1", 2)), stock((0, "S1", 2, 9.0)), commits())["units"] == 0


def test_order_latency_reports_the_one_late_order():
    o = orders(*[(f"O{i}", 0, 0, "UNSHIPPED", "MERCHANT", None) for i in range(20)])
    c = commits(*[(f"O{i}", 5) for i in range(19)], ("O19", 125))
    card = scorecard.order_latency(o, c)
    assert card["imported"] == 20 and card["p50_minutes"] == 5.0 and card["max_minutes"] == 125.0
    assert 5.0 < card["p95_minutes"] <= 125.0


def test_missing_and_duplicated_orders_and_customers():
    o = orders(("A", 0, 10, "UNSHIPPED", "MERCHANT", "x@m"), ("B", 0, 10, "UNSHIPPED", "MERCHANT", "x@m"),
               ("C", 0, 10, "UNSHIPPED", "MERCHANT", "y@m"), ("P", 0, 10, "PENDING", "MERCHANT", "z@m"),
               ("N", 0, 55, "UNSHIPPED", "MERCHANT", "z@m"))
    om = om_orders(("A", 1, "open"), ("A", 1, "open"), ("B", 2, "open"))
    assert scorecard.missing_orders(o, om, at(60), grace_minutes=10) == 1  # C; P pending; N released within the grace
    assert scorecard.duplicated_orders(om) == 1
    assert scorecard.duplicated_customers(o, om) == 1  # one buyer x@m became customers 1 and 2


def test_stock_truth_counts_a_sku_minute_over_and_under_and_the_stretch():
    # S1: Amazon shows 5 while the OM has 3 free from minute 0 to 2 (2 SKU-minutes over), then agrees
    # S2: Amazon shows 0 while the OM has 4 free for one minute (lost sales)
    lst = listings((0, "S1", 5, 9.0), (1, "S1", 5, 9.0), (2, "S1", 3, 9.0), (0, "S2", 4, 9.0), (1, "S2", 0, 9.0), (2, "S2", 4, 9.0))
    om = stock((0, "S1", 3, 9.0), (1, "S1", 3, 9.0), (2, "S1", 3, 9.0), (0, "S2", 4, 9.0), (1, "S2", 4, 9.0), (2, "S2", 4, 9.0))
    sellable = scorecard.true_free(om, scorecard.unheld_units(orders(), lines(), commits()))
    card = scorecard.stock_truth(lst, sellable, at(3))
    assert card == {"over_sku_minutes": 2.0, "over_longest_minutes": 2.0, "under_sku_minutes": 1.0, "under_longest_minutes": 1.0}


def test_stock_truth_lost_sales_are_judged_against_the_oms_rules():
    # the OM's Tag keeps 2 of 5 back: Amazon showing 3 is right, 2 is a lost-sales minute
    om = stock((0, "S1", 5, 9.0), (1, "S1", 5, 9.0), reserved=2)
    sellable = scorecard.true_free(om, scorecard.unheld_units(orders(), lines(), commits()))
    card = scorecard.stock_truth(listings((0, "S1", 3, 9.0), (1, "S1", 2, 9.0)), sellable, at(2))
    assert card["under_sku_minutes"] == 1.0 and card["over_sku_minutes"] == 0.0


def test_stock_truth_subtracts_what_amazon_sold_and_the_om_does_not_hold_yet():
    # Amazon sold 2 of 5 at minute 0.5 and shows 3; the OM still says 5 free until it imports at minute 2: no error either way
    o = orders(("A", 0.5, 0.5, "UNSHIPPED", "MERCHANT", None))
    om = stock((0, "S1", 5, 9.0), (1, "S1", 5, 9.0), (2, "S1", 3, 9.0))
    sellable = scorecard.true_free(om, scorecard.unheld_units(o, lines(("A", "S1", 2)), commits(("A", 2))))
    card = scorecard.stock_truth(listings((0, "S1", 5, 9.0), (1, "S1", 3, 9.0), (2, "S1", 3, 9.0)), sellable, at(3))
    assert card["over_sku_minutes"] == 0.0 and card["under_sku_minutes"] == 0.0


def test_price_truth_one_wrong_sku_minute_and_one_guard_held():
    lst = listings((0, "S1", 1, 10.0), (1, "S1", 1, 12.0), (0, "S2", 1, 10.0), (1, "S2", 1, 10.0))
    om = stock((0, "S1", 1, 12.0), (1, "S1", 1, 12.0), (0, "S2", 1, 10.0), (1, "S2", 1, 99.0))  # S2: a rise of 890 % is held
    assert scorecard.price_truth(lst, om, at(2)) == {"wrong_sku_minutes": 1.0, "guard_held_sku_minutes": 1.0}


def test_offer_fields_removed_and_na_when_the_sandbox_shows_only_our_price():
    frame = lambda rows: pl.DataFrame([{"at": at(m), "sku": s, "field": f} for m, s, f in rows], schema={"at": UTC, "sku": pl.String, "field": pl.String})
    removed = frame([(0, "S1", "our_price"), (0, "S1", "discounted_price"), (1, "S1", "our_price"), (0, "S2", "b2b"), (1, "S2", "b2b")])
    assert scorecard.offer_fields_removed(removed) == 1
    assert scorecard.offer_fields_removed(frame([(0, "S1", "our_price")])) == NA_SANDBOX


def test_cancellations():
    o = orders(("A", 0, 10, "CANCELLED", "MERCHANT", None), ("B", 0, 10, "CANCELLED", "MERCHANT", None), ("C", 0, 0, "UNSHIPPED", "MERCHANT", None))
    om = om_orders(("A", 1, "open"), ("B", 2, "cancelled"), ("C", 3, "cancelled"))
    shipped = pl.DataFrame({"order_id": ["B"], "package_ref": ["1"], "ship_date": [at(20)]}, schema_overrides={"ship_date": UTC})
    card = scorecard.cancellations(o, om, shipped)
    assert card["amazon_cancelled_open_in_om"] == 1 and card["shipped_after_amazon_cancelled"] == 1 and card["om_cancelled_open_on_amazon"] == 1
    assert card["buyer_requests_honoured_before_shipping"] == NA_SANDBOX


def test_shipments_once_never_twice_and_refused():
    om = pl.DataFrame({"order_id": ["A", "B", "C", "D"], "package_ref": ["1", "2", "3", "4"], "ship_date": [at(0), at(0), at(0), at(59)]},
                      schema_overrides={"ship_date": UTC})
    conf = pl.DataFrame({"order_id": ["A", "C", "C", "B"], "package_ref": ["1", "3", "3", "2"], "status": [204, 204, 204, 400]})
    card = scorecard.shipments(om, conf, at(60), grace_minutes=15)
    assert (card["packages_shipped_in_om"], card["confirmed_exactly_once"], card["never_confirmed"], card["confirmed_more_than_once"],
            card["confirmations_refused"]) == (3, 1, 1, 1, 1)


def test_cash_false_dispute_missed_payment_false_overdue():
    inv = pl.DataFrame({"order_id": ["A", "B", "C", "D", "E"], "payment_status": ["paid", "disputed", "unpaid", "overdue", "paid"],
                        "due_date": [date(2026, 1, 20)] * 4 + [date(2026, 1, 1)]})
    settled = pl.DataFrame({"order_id": ["A", "B", "C", "X"], "settled_at": [at(60), at(60), at(60), at(600)]}, schema_overrides={"settled_at": UTC})
    card = scorecard.cash(inv, settled, at(120), settlement_seen_before=at(90))
    assert card["paid_by_amazon"] == 3 and card["false_disputes"] == 1 and card["missed_payments"] == 2  # B disputed, C unpaid
    assert card["false_overdue"] == 1 and card["paid_without_payment"] == 1  # D overdue before its due date; E never paid by Amazon


def test_amazon_calls_share_of_plan_and_runs():
    table = scorecard.amazon_calls({"getOrder": 30, "searchOrders": 21}, {"searchOrders": 1}, {"getOrder": (0.5, 30), "searchOrders": (0.0056, 20)}, 0.0)
    assert table.filter(pl.col("operation") == "getOrder")["plan_share"].item() == 1.0
    assert table.filter(pl.col("operation") == "searchOrders")["throttled"].item() == 1
    flow_runs = pl.DataFrame({"flow": ["orders", "orders", "prices"], "state": ["COMPLETED", "FAILED", "COMPLETED"], "problems": [0, 0, 2]})
    assert scorecard.runs(flow_runs).to_dicts() == [{"flow": "orders", "runs": 2, "failed": 1, "problems": 0},
                                                    {"flow": "prices", "runs": 1, "failed": 0, "problems": 2}]
