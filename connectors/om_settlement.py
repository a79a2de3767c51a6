"""The OM side of settlement: Amazon invoices with their Terms and earlier payments, and the
payment updates of one settlement in one transaction."""

from __future__ import annotations

import polars as pl

from omsync.connectors.om import OmDatabase
from omsync.core.marketplaces import AMAZON_CHANNEL
from omsync.core.schemas import INVOICE_SCHEMA

# What the OM says of an invoice; transforms.settlement_records.applicable_terms adds its tolerance.
RAW_INVOICE_SCHEMA = {**{k: v for k, v in INVOICE_SCHEMA.items() if k != "tolerance"}, "invoice_terms": pl.String, "order_terms": pl.String}

AMAZON_INVOICES = """
    SELECT i.invoice_id, i.invoice_no, i.sales_order_id, s.external_order_id AS order_id, i.amount, i.currency,
           i.invoice_date, i.due_date, i.payment_status, p.paid AS paid_before, i.terms_code AS invoice_terms, s.terms_code AS order_terms
    FROM invoice i
    JOIN sales_order s USING (sales_order_id)
    LEFT JOIN (SELECT invoice_id, sum(amount) AS paid FROM invoice_payment WHERE settlement_id <> $settlement GROUP BY 1) p USING (invoice_id)
    WHERE s.channel = $channel
"""


def invoices_for_orders(om: OmDatabase, order_ids: pl.Series, settlement_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The OM invoices of these Amazon orders with the Terms they and their orders name and what other
    settlements paid on them; and which of the orders the OM knows at all."""
    wanted = pl.DataFrame({"order_id": order_ids.unique()})
    with om.session(read_only=True) as con:
        con.register("wanted", wanted)
        known = con.execute("SELECT DISTINCT w.order_id FROM wanted w JOIN sales_order s "
                            "ON s.channel = ? AND s.external_order_id = w.order_id", [AMAZON_CHANNEL]).pl()
        invoices = con.execute(f"SELECT a.* FROM ({AMAZON_INVOICES}) a JOIN wanted USING (order_id)", {"settlement": settlement_id, "channel": AMAZON_CHANNEL}).pl()
    return invoices.cast(RAW_INVOICE_SCHEMA).select(*RAW_INVOICE_SCHEMA), known


def open_invoices(om: OmDatabase) -> pl.DataFrame:
    """Every Amazon invoice not paid yet: unpaid, overdue or disputed."""
    with om.session(read_only=True) as con:
        found = con.execute(f"SELECT * FROM ({AMAZON_INVOICES}) WHERE payment_status <> 'paid'", {"settlement": "", "channel": AMAZON_CHANNEL}).pl()
    return found.cast(RAW_INVOICE_SCHEMA).select(*RAW_INVOICE_SCHEMA)


def terms(om: OmDatabase) -> pl.DataFrame:
    """The OM's Terms (terms_code, net_days, tolerance)."""
    return om.read("SELECT terms_code, net_days, tolerance FROM terms")


def apply_payments(om: OmDatabase, payments: pl.DataFrame, invoices: pl.DataFrame) -> pl.Series:
    """One settlement's payments and the invoices' new payment status, in one OM transaction; a
    payment already recorded for this settlement is not recorded again. Returns the invoice ids this call paid."""
    with om.session() as con:
        con.begin()
        con.register("staged_payments", payments.select("invoice_id", "settlement_id"))
        recorded = con.execute("SELECT p.invoice_id FROM invoice_payment p JOIN staged_payments s USING (invoice_id, settlement_id)").pl()
        om.insert_missing(con, "invoice_payment", payments, ("invoice_id", "settlement_id"))
        # a settlement pays an invoice once: a later, complete delivery of it corrects the amount, never adds one
        om.update_matching(con, "invoice_payment", payments.select("invoice_id", "settlement_id", "amount"), ("invoice_id", "settlement_id"))
        om.update_matching(con, "invoice", invoices.select("invoice_id", "payment_status", paid_amount="settled", paid_at="paid_at"),
                           ("invoice_id",))
        con.commit()
    return payments.join(recorded, on="invoice_id", how="anti")["invoice_id"]


def mark_overdue(om: OmDatabase, overdue: pl.DataFrame) -> None:
    """Terms: these unpaid invoices are past their due date."""
    with om.session() as con:
        con.begin()
        om.update_matching(con, "invoice", overdue.select("invoice_id", "payment_status"), ("invoice_id",))
        con.commit()
