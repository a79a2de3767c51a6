"""Reconciliation of settlement lines with OM invoices under their Terms: pure Polars, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from omsync.core.schemas import INVOICE_SCHEMA  # noqa: F401 (the OM invoices these rules read)
from omsync.transforms.settlement_report import MONEY

BUYER_PAID_TYPES = ("ItemPrice", "Promotion")
ORDER_TRANSACTIONS = ("Order",)
REFUND_KINDS = {  # transaction types that take money back from the seller after an order: a person decides
    "Refund": "refund", "Chargeback Refund": "chargeback", "A-to-z Guarantee Refund": "a_to_z_claim",
    "Order_Retrocharge": "retrocharge", "Refund_Retrocharge": "retrocharge", "Cancellation": "refund",
}
# Seller-account charges and movements Amazon explains itself: they belong in the fee summary.
ACCOUNT_DESCRIPTIONS = ("Subscription Fee", "Storage Fee", "Current Reserve Amount", "Previous Reserve Amount Balance",
                        "Inbound Transportation Fee", "Shipping label purchase", "Shipping label purchase for return",
                        "Long-Term Storage Fee", "Storage Renewal Billing", "TransactionTotalAmount")
ACCOUNT_TRANSACTIONS = ("ServiceFee", "Cost of Advertising", "CouponRedemptionFee", "Lightning Deal Fee", "Vine Enrollment Fee",
                        "Fee Adjustment", "SellerReviewEnrollmentPayment")
EXCEPTION_SCHEMA = {"kind": pl.String, "key": pl.String, "settlement_id": pl.String, "order_id": pl.String,
                    "amount": MONEY, "reason": pl.String, "raw": pl.String}


@dataclass(frozen=True)
class Reconciliation:
    payments: pl.DataFrame  # invoice_payment rows for the OM: invoice_id, settlement_id, amount, deposit_date
    invoices: pl.DataFrame  # per invoice: what it is now (payment_status, paid_amount, paid_at) and why
    exceptions: pl.DataFrame  # what needs a person, EXCEPTION_SCHEMA


def classify_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """Each line's role: buyer_paid (ItemPrice, Promotion of an order), fee (the rest of an order),
    a refund kind, account (fees of the seller account), or unexplained."""
    transaction = pl.col("transaction_type")
    return lines.with_columns(
        role=pl.when(transaction.is_in(ORDER_TRANSACTIONS) & pl.col("order_id").is_not_null())
        .then(pl.when(pl.col("amount_type").is_in(BUYER_PAID_TYPES)).then(pl.lit("buyer_paid")).otherwise(pl.lit("fee")))
        .when(transaction.is_in(list(REFUND_KINDS))).then(transaction.replace_strict(REFUND_KINDS, default=None))
        .when(pl.col("order_id").is_null() & (transaction.str.to_lowercase().eq("other-transaction") & pl.col("amount_description").is_in(ACCOUNT_DESCRIPTIONS)
                                              | transaction.is_in(ACCOUNT_TRANSACTIONS)))
        .then(pl.lit("account"))
        .otherwise(pl.lit("unexplained"))
    )


def settle_orders(classified: pl.DataFrame) -> pl.DataFrame:
    """Per order of the settlement: what the buyer paid (ItemPrice + Promotion) and the fees and withheld taxes."""
    return (
        classified.filter(pl.col("role").is_in(["buyer_paid", "fee"]))
        .group_by("settlement_id", "order_id")
        .agg(settled=pl.col("amount").filter(pl.col("role") == "buyer_paid").sum(),
             fees=pl.col("amount").filter(pl.col("role") == "fee").sum())
        .with_columns(pl.col("settled", "fees").cast(MONEY))
    )


def line_exceptions(classified: pl.DataFrame) -> pl.DataFrame:
    """Refunds, chargebacks and claims per order and adjustment, and lines nobody explains, for a person."""
    refunds = (
        classified.filter(~pl.col("role").is_in(["buyer_paid", "fee", "account", "unexplained"]))
        .group_by("settlement_id", "order_id", "role", "transaction_type", "adjustment_id")
        .agg(pl.col("amount").sum())
        .select(kind="role", key=pl.concat_str("settlement_id", "order_id", pl.col("adjustment_id").fill_null(""), separator=":"),
                settlement_id="settlement_id", order_id="order_id", amount="amount",
                reason=pl.format("{} of {} for order {}: book it against the order by hand", "transaction_type",
                                 pl.col("amount").cast(pl.String), pl.col("order_id").fill_null("(none)")),
                raw=pl.col("adjustment_id"))
    )
    unexplained = classified.filter(pl.col("role") == "unexplained").select(
        # a V1 row holds several amounts under one line number: the amount's type tells them apart
        kind=pl.lit("unexplained"), key=pl.format("{}:line {}:{}/{}", "settlement_id", "line_no", "amount_type", "amount_description"),
        settlement_id="settlement_id", order_id="order_id", amount="amount",
        reason=pl.format("{} / {} / {}: not an order, refund or known account fee", "transaction_type", "amount_type",
                         "amount_description"),
        raw=pl.lit(None, pl.String))
    return pl.concat([refunds.cast(EXCEPTION_SCHEMA), unexplained.cast(EXCEPTION_SCHEMA)])


def reconcile_orders(settled: pl.DataFrame, invoices: pl.DataFrame, known_orders: pl.DataFrame,
                     settlement_id: str, deposit_date: date | None) -> Reconciliation:
    """Each order's buyer-paid money against its OM invoice: within the Terms' tolerance of the
    invoice amount (counting earlier settlements' payments) → paid, beyond it → disputed.
    `invoices` has INVOICE_SCHEMA; `known_orders` lists the order ids the OM has a sales order for."""
    per_order = invoices.group_by("order_id").agg(invoice_count=pl.len())
    matched = settled.join(per_order, on="order_id", how="left").join(
        known_orders.select("order_id", known=pl.lit(True)), on="order_id", how="left")
    single = matched.filter(pl.col("invoice_count") == 1).join(invoices, on="order_id").with_columns(
        paid_amount=(pl.col("paid_before").fill_null(0) + pl.col("settled")).cast(MONEY),
    ).with_columns(
        difference=(pl.col("paid_amount") - pl.col("amount")).cast(MONEY),
    ).with_columns(
        payment_status=pl.when(pl.col("difference").abs() <= pl.col("tolerance").fill_null(0)).then(pl.lit("paid")).otherwise(pl.lit("disputed")),
    ).with_columns(
        paid_at=pl.when(pl.col("payment_status") == "paid").then(pl.lit(deposit_date, pl.Date)).cast(pl.Datetime("us", "UTC")),
        reason=pl.when(pl.col("payment_status") == "paid").then(pl.lit(None, pl.String))
        .otherwise(pl.format("Amazon paid {} in all, the invoice is {}: {} by {} (tolerance {})",
                             _money("paid_amount"), _money("amount"),
                             pl.when(pl.col("difference") < 0).then(pl.lit("short")).otherwise(pl.lit("over")),
                             _money(pl.col("difference").abs()), _money(pl.col("tolerance").fill_null(0)))),
    )
    payments = single.select("invoice_id", settlement_id=pl.lit(settlement_id), amount="settled",
                             deposit_date=pl.lit(deposit_date, pl.Date))
    unmatched = matched.filter(pl.col("invoice_count").fill_null(0) != 1).select(
        kind=pl.when(pl.col("known").is_null()).then(pl.lit("unknown_order"))
        .when(pl.col("invoice_count").is_null()).then(pl.lit("not_invoiced")).otherwise(pl.lit("several_invoices")),
        key=pl.concat_str("settlement_id", "order_id", separator=":"), settlement_id="settlement_id", order_id="order_id",
        amount="settled",
        reason=pl.when(pl.col("known").is_null()).then(pl.lit("Amazon paid for an order the OM does not have"))
        .when(pl.col("invoice_count").is_null()).then(pl.lit("the OM has not invoiced this order yet; it will be matched when a later settlement or a rerun finds the invoice"))
        .otherwise(pl.format("the order has {} invoices: decide which one Amazon paid", "invoice_count")),
        raw=pl.lit(None, pl.String))
    disputed = single.filter(pl.col("payment_status") == "disputed").select(
        kind=pl.lit("difference"), key=pl.concat_str("settlement_id", "order_id", separator=":"), settlement_id="settlement_id",
        order_id="order_id", amount="difference", reason="reason", raw="invoice_no")
    invoices_now = single.select("invoice_id", "invoice_no", "order_id", "sales_order_id", "invoice_date", "due_date", "currency",
                                 expected="amount", settled="paid_amount", fees="fees", difference="difference",
                                 payment_status="payment_status", paid_at="paid_at", reason="reason")
    return Reconciliation(payments, invoices_now, pl.concat([unmatched.cast(EXCEPTION_SCHEMA), disputed.cast(EXCEPTION_SCHEMA)]))


def find_overdue(open_invoices: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Terms: an unpaid invoice whose due date (invoice date + net days) has passed is overdue."""
    return open_invoices.filter((pl.col("payment_status") == "unpaid") & (pl.col("due_date") < as_of)).with_columns(
        payment_status=pl.lit("overdue"),
        reason=pl.format("due {}, unpaid on {}", pl.col("due_date").cast(pl.String), pl.lit(as_of.isoformat())))


def balance(reported: Decimal | None, lines: pl.DataFrame) -> tuple[Decimal, bool]:
    """The settlement's computed total (Σ amount of its detail lines) and whether it equals the summary's total."""
    computed = lines["amount"].sum() if lines.height else Decimal(0)
    return computed, reported is not None and computed == reported


def _money(value: str | pl.Expr) -> pl.Expr:
    expr = pl.col(value) if isinstance(value, str) else value
    return expr.cast(pl.Decimal(18, 2)).cast(pl.String)


DELIVERY_KEY = ["line_no", "transaction_type", "order_id", "amount_type", "amount_description", "amount", "sku", "posted_at"]


def changed_applied_lines(applied: pl.DataFrame, delivered: pl.DataFrame) -> pl.DataFrame:
    """The lines of an earlier delivery of a settlement that a later delivery of it changes or drops:
    a later delivery may only add lines (the rest of a truncated file), never rewrite what was paid."""
    return applied.select(DELIVERY_KEY).join(delivered.select(DELIVERY_KEY), on=DELIVERY_KEY, how="anti", nulls_equal=True)


def supersedes(earlier_balanced: bool, changed: pl.DataFrame, balanced: bool) -> bool:
    """A later delivery replaces an applied settlement when the applied one did not balance, this one
    does, and it keeps every line already applied."""
    return not earlier_balanced and balanced and changed.is_empty()
