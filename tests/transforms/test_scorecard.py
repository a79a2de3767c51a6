"""The scorecard: every figure on a small scenario whose value is known by construction, so the card
cannot report 0 for a problem that happened (and reports n/a only where no truth exists)."""

from datetime import date, datetime, timedelta, timezone

import polars as pl

from omsync.transforms import scorecard
from omsync.transforms.scorecard import NA_FEES, NA_NO_OFFER_FIELDS

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
    assert scorecard.offer_fields_removed(frame([(0, "S1", "our_price")])) == NA_NO_OFFER_FIELDS


def requests(*rows) -> pl.DataFrame:
    """(order_id, requested min, honoured, first package min or None)"""
    return pl.DataFrame([{"order_id": o, "requested_at": at(r), "honoured": h, "shipped_at": None if p is None else at(p)} for o, r, h, p in rows],
                        schema={"order_id": pl.String, "requested_at": UTC, "honoured": pl.Boolean, "shipped_at": UTC})


def test_cancellations():
    o = orders(("A", 0, 10, "CANCELLED", "MERCHANT", None), ("B", 0, 10, "CANCELLED", "MERCHANT", None), ("C", 0, 0, "UNSHIPPED", "MERCHANT", None))
    om = om_orders(("A", 1, "open"), ("B", 2, "cancelled"), ("C", 3, "cancelled"))
    shipped = pl.DataFrame({"order_id": ["B"], "package_ref": ["1"], "ship_date": [at(20)]}, schema_overrides={"ship_date": UTC})
    card = scorecard.cancellations(o, requests(), om, shipped)
    assert card["amazon_cancelled_open_in_om"] == 1 and card["shipped_after_amazon_cancelled"] == 1 and card["om_cancelled_open_on_amazon"] == 1
    assert card["buyer_cancel_requests"] == 0 and card["buyer_requests_honoured_percent"] is None


def test_buyer_cancel_requests_one_honoured_one_shipped_regardless():
    # R1 honoured (cancelled, nothing shipped); R2 shipped 5 minutes after the buyer asked; R3 still waiting
    r = requests(("R1", 1, True, None), ("R2", 1, False, 6), ("R3", 2, False, None))
    card = scorecard.cancellations(orders(), r, om_orders(), pl.DataFrame(schema={"order_id": pl.String, "package_ref": pl.String, "ship_date": UTC}))
    assert card["buyer_cancel_requests"] == 3 and card["buyer_requests_honoured_before_shipping"] == 1
    assert card["buyer_requests_honoured_percent"] == 33.3 and card["shipped_after_buyer_request"] == 1


def packages(*rows) -> pl.DataFrame:
    """(order_id, package_ref, shipped_by, late)"""
    return pl.DataFrame([{"order_id": o, "package_ref": p, "shipped_by": b, "late": l} for o, p, b, l in rows],
                        schema={"order_id": pl.String, "package_ref": pl.String, "shipped_by": pl.String, "late": pl.Boolean})


def test_shipments_once_never_twice_and_refused():
    om = pl.DataFrame({"order_id": ["A", "B", "C", "D"], "package_ref": ["1", "2", "3", "4"], "ship_date": [at(0), at(0), at(0), at(59)]},
                      schema_overrides={"ship_date": UTC})
    conf = pl.DataFrame({"order_id": ["A", "C", "C", "B"], "package_ref": ["1", "3", "3", "2"], "status": [204, 204, 204, 400]})
    card = scorecard.shipments(om, conf, packages(), om_orders(), at(60), grace_minutes=15)
    assert (card["packages_shipped_in_om"], card["confirmed_exactly_once"], card["never_confirmed"], card["confirmed_more_than_once"],
            card["confirmations_refused"]) == (3, 1, 1, 1, 1)
    assert card["confirmed_exactly_once_percent"] == 33.3


def test_shipments_one_late_confirmation_and_one_outside_shipment_open_in_the_om():
    # A confirmed late through the API; B shipped in Seller Central and still open in the OM; C shipped outside and closed
    p = packages(("A", "1", "CONFIRM_SHIPMENT", True), ("B", "2", "BUY_SHIPPING", False), ("C", "3", "BUY_SHIPPING", True),
                 ("D", "4", "CONFIRM_SHIPMENT", False))
    none = pl.DataFrame(schema={"order_id": pl.String, "package_ref": pl.String, "ship_date": UTC})
    card = scorecard.shipments(none, pl.DataFrame(schema={"order_id": pl.String, "package_ref": pl.String, "status": pl.Int64}), p,
                               om_orders(("B", 1, "open"), ("C", 2, "closed"), ("D", 3, "open")), at(60), grace_minutes=15)
    assert card["confirmed_after_ship_by"] == 1 and card["shipped_outside_om"] == 2 and card["shipped_outside_om_open_in_om"] == 1


def test_suppressed_listings_count_skus_and_their_minutes():
    # S1 suppressed from minute 10 to 25 (its price went outside its min/max), S2 never
    changes = pl.DataFrame([{"at": at(m), "sku": s, "suppressed": x} for m, s, x in [(0, "S1", False), (10, "S1", True), (25, "S1", False), (0, "S2", False)]],
                           schema={"at": UTC, "sku": pl.String, "suppressed": pl.Boolean})
    assert scorecard.suppressed(changes, at(60)) == {"listings_suppressed": 1, "suppressed_sku_minutes": 15.0}


def test_cash_false_dispute_missed_payment_false_overdue():
    inv = pl.DataFrame({"order_id": ["A", "B", "C", "D", "E", "F"], "payment_status": ["paid", "disputed", "unpaid", "overdue", "paid", "unpaid"],
                        "due_date": [date(2026, 1, 20)] * 4 + [date(2026, 1, 1)] * 2})
    settled = pl.DataFrame({"order_id": ["A", "B", "C", "X"], "settled_at": [at(60), at(60), at(60), at(600)]}, schema_overrides={"settled_at": UTC})
    payouts = pl.DataFrame({"settlement_id": ["S1", "S1", "S2", "S3"], "order_id": ["A", "B", "C", "X"], "paid_at": [at(60), at(60), at(60), at(600)]},
                           schema_overrides={"paid_at": UTC})
    payments = pl.DataFrame({"settlement_id": ["S1"], "paid": [10.0]})
    card = scorecard.cash(inv, settled, payouts, payments, at(120), settlement_seen_before=at(90))
    assert card["paid_by_amazon"] == 3 and card["false_disputes"] == 1 and card["missed_payments"] == 2  # B disputed, C unpaid
    assert card["false_overdue"] == 1 and card["paid_without_payment"] == 1  # D overdue before its due date; E never paid by Amazon
    assert card["missed_overdue"] == 1 and card["invoices"] == 6 and card["paid"] == 2  # F: past due, unpaid, still not overdue
    # S2 paid C and the OM recorded nothing of it; S3 pays an order that is no OM invoice (and came after the last run)
    assert card["deposits"] == 2 and card["deposits_not_matched"] == 1 and card["fees_recorded"] == NA_FEES


def test_amazon_calls_share_of_plan_and_runs():
    table = scorecard.amazon_calls({"getOrder": 30, "searchOrders": 21}, {"searchOrders": 1}, {"getOrder": (0.5, 30), "searchOrders": (0.0056, 20)}, 0.0)
    assert table.filter(pl.col("operation") == "getOrder")["plan_share"].item() == 1.0
    assert table.filter(pl.col("operation") == "searchOrders")["throttled"].item() == 1
    flow_runs = pl.DataFrame({"flow": ["orders", "orders", "prices"], "state": ["COMPLETED", "FAILED", "COMPLETED"], "problems": [0, 0, 2]})
    assert scorecard.runs(flow_runs).to_dicts() == [{"flow": "orders", "runs": 2, "failed": 1, "problems": 0},
                                                    {"flow": "prices", "runs": 1, "failed": 0, "problems": 2}]
