"""Reconciliation rules: buyer-paid money vs invoices under Terms, fees, refunds, overdue."""

from datetime import date, datetime, timezone
from decimal import Decimal

import polars as pl

from omsync.transforms.settlement import INVOICE_SCHEMA, balance, classify_lines, find_overdue, line_exceptions, reconcile_orders, settle_orders
from omsync.transforms.settlement_report import LINE_SCHEMA

D = Decimal


def lines(*rows: tuple) -> pl.DataFrame:
    """(transaction type, order id, amount type, description, amount) rows of settlement S1."""
    return pl.DataFrame(
        [{"settlement_id": "S1", "line_no": n, "transaction_type": t, "order_id": o, "amount_type": a, "amount_description": d,
          "amount": D(x), "adjustment_id": "adj-1" if t != "Order" else None} for n, (t, o, a, d, x) in enumerate(rows, start=2)],
        schema={k: v for k, v in LINE_SCHEMA.items() if k in ("settlement_id", "line_no", "transaction_type", "order_id", "amount_type",
                                                              "amount_description", "amount", "adjustment_id")})


ORDER_A = [("Order", "A", "ItemPrice", "Principal", "40.00"), ("Order", "A", "ItemPrice", "Tax", "3.20"),
           ("Order", "A", "Promotion", "Principal", "-5.00"), ("Order", "A", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", "-3.20"),
           ("Order", "A", "ItemFees", "Commission", "-6.00")]


def invoice(invoice_id: int, order_id: str, amount: str, tolerance: str = "0.05", paid_before: str | None = None) -> dict:
    return {"invoice_id": invoice_id, "invoice_no": f"INV-{invoice_id}", "sales_order_id": invoice_id, "order_id": order_id,
            "amount": D(amount), "currency": "USD", "tolerance": D(tolerance), "invoice_date": date(2025, 6, 1),
            "due_date": date(2025, 6, 15), "payment_status": "unpaid", "paid_before": None if paid_before is None else D(paid_before)}


def reconcile(rows, invoices, known=None):
    settled = settle_orders(classify_lines(lines(*rows)))
    frame = pl.DataFrame(invoices, schema=INVOICE_SCHEMA)
    known = pl.DataFrame({"order_id": known if known is not None else frame["order_id"].unique().to_list()}, schema={"order_id": pl.String})
    return reconcile_orders(settled, frame, known, "S1", date(2025, 6, 17))


def test_buyer_paid_is_item_price_plus_promotion_and_fees_are_kept_apart():
    settled = settle_orders(classify_lines(lines(*ORDER_A)))
    assert settled.select("order_id", "settled", "fees").row(0) == ("A", D("38.20"), D("-9.20"))


def test_within_the_tolerance_the_invoice_is_paid_with_a_payment_of_what_amazon_paid():
    result = reconcile(ORDER_A, [invoice(1, "A", "38.24")])
    assert result.invoices.select("payment_status", "settled", "difference").row(0) == ("paid", D("38.20"), D("-0.04"))
    assert result.invoices["paid_at"][0] == datetime(2025, 6, 17, tzinfo=timezone.utc)
    assert result.payments.rows() == [(1, "S1", D("38.20"), date(2025, 6, 17))]
    assert result.exceptions.is_empty()


def test_beyond_the_tolerance_it_is_disputed_with_the_difference_either_way():
    short = reconcile(ORDER_A, [invoice(1, "A", "43.20")])
    assert short.invoices["payment_status"][0] == "disputed" and short.invoices["paid_at"][0] is None
    assert short.exceptions.select("kind", "amount").row(0) == ("difference", D("-5"))
    assert "short by 5.00 (tolerance 0.05)" in short.exceptions["reason"][0]
    over = reconcile(ORDER_A, [invoice(1, "A", "30.00", tolerance="1.00")])
    assert "over by 8.20" in over.exceptions["reason"][0]
    assert short.payments.height == 1, "the money Amazon paid is recorded even when it is disputed"


def test_an_earlier_partial_payment_counts_towards_the_invoice():
    result = reconcile(ORDER_A, [invoice(1, "A", "50.00", paid_before="11.80")])
    assert result.invoices.select("payment_status", "settled").row(0) == ("paid", D("50.00"))
    assert result.payments["amount"].to_list() == [D("38.20")]


def test_unknown_orders_uninvoiced_orders_and_orders_with_two_invoices_need_a_person():
    rows = ORDER_A + [("Order", "B", "ItemPrice", "Principal", "9.99"), ("Order", "C", "ItemPrice", "Principal", "1.00")]
    result = reconcile(rows, [invoice(1, "A", "10"), invoice(2, "A", "28.20")], known=["A", "B"])
    kinds = dict(result.exceptions.select("order_id", "kind").iter_rows())
    assert kinds == {"A": "several_invoices", "B": "not_invoiced", "C": "unknown_order"}
    assert result.payments.is_empty() and result.invoices.is_empty()


def test_refunds_claims_and_unexplained_lines_become_exceptions_and_account_fees_do_not():
    classified = classify_lines(lines(
        ("Refund", "A", "ItemPrice", "Principal", "-40.00"), ("Refund", "A", "ItemFees", "Commission", "6.00"),
        ("A-to-z Guarantee Refund", "B", "ItemPrice", "Principal", "-9.99"),
        ("other-transaction", None, "other-transaction", "Subscription Fee", "-39.99"),
        ("other-transaction", None, "other-transaction", "Current Reserve Amount", "-100.00"),
        ("FBA Inventory Reimbursement", None, "FBA Inventory Reimbursement", "WAREHOUSE_DAMAGE", "12.00"),
    ))
    assert classified["role"].to_list() == ["refund", "refund", "a_to_z_claim", "account", "account", "unexplained"]
    exceptions = line_exceptions(classified).sort("kind")
    assert exceptions.select("kind", "order_id", "amount").rows() == [
        ("a_to_z_claim", "B", D("-9.99")), ("refund", "A", D("-34")), ("unexplained", None, D("12"))]
    assert settle_orders(classified).is_empty()


def test_terms_make_an_unpaid_invoice_past_its_due_date_overdue_and_nothing_else():
    open_invoices = pl.DataFrame([invoice(1, "A", "10"), invoice(2, "B", "10") | {"due_date": date(2025, 7, 1)},
                                  invoice(3, "C", "10") | {"payment_status": "disputed"}], schema=INVOICE_SCHEMA)
    overdue = find_overdue(open_invoices, date(2025, 6, 20))
    assert overdue["invoice_id"].to_list() == [1] and overdue["payment_status"].to_list() == ["overdue"]
    assert find_overdue(open_invoices, date(2025, 6, 15)).is_empty(), "due today is not overdue yet"


def test_a_settlement_balances_when_its_lines_add_up_to_the_summary():
    classified = lines(*ORDER_A)
    assert balance(D("29"), classified) == (D("29"), True)
    assert balance(D("29.01"), classified) == (D("29"), False)
    assert balance(None, classified)[1] is False


def test_a_later_delivery_may_add_lines_but_never_change_or_drop_applied_ones():
    from omsync.transforms.settlement import changed_applied_lines, supersedes

    def lines(amounts):
        return pl.DataFrame({"line_no": range(1, len(amounts) + 1), "transaction_type": "Order", "order_id": "O1", "amount_type": "ItemPrice",
                             "amount_description": "Principal", "amount": amounts, "sku": "S", "posted_at": None},
                            schema_overrides={"amount": pl.Decimal(18, 4), "posted_at": pl.Datetime("us", "UTC")})
    half, full = lines(["1.00", "2.00"]), lines(["1.00", "2.00", "3.00"])
    assert changed_applied_lines(half, full).is_empty() and supersedes(False, changed_applied_lines(half, full), True)
    rewritten = lines(["1.00", "9.00", "3.00"])
    assert changed_applied_lines(half, rewritten)["line_no"].to_list() == [2]
    assert not supersedes(False, changed_applied_lines(half, rewritten), True)
    assert not supersedes(True, changed_applied_lines(half, full), True), "a balanced settlement is never replaced"
    assert not supersedes(False, changed_applied_lines(half, full), False), "only a delivery that balances replaces one"
