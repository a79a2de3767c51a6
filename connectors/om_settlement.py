"""The OM side of settlement: Amazon invoices with their Terms and earlier payments, and the
payment updates of one settlement in one transaction."""

from __future__ import annotations

import polars as pl

from connectors.om import OmDatabase
from omsync.marketplaces import AMAZON_CHANNEL
from transforms.settlement import INVOICE_SCHEMA

AMAZON_INVOICES = """
    SELECT i.invoice_id, i.invoice_no, i.sales_order_id, s.external_order_id AS order_id, i.amount, i.currency,
           t.tolerance, i.invoice_date, i.due_date, i.payment_status, p.paid AS paid_before
    FROM invoice i
    JOIN sales_order s USING (sales_order_id)
    LEFT JOIN terms t ON t.terms_code = coalesce(i.terms_code, s.terms_code)
    LEFT JOIN (SELECT invoice_id, sum(amount) AS paid FROM invoice_payment WHERE settlement_id <> $settlement GROUP BY 1) p USING (invoice_id)
    WHERE s.channel = $channel
"""


def invoices_for_orders(om: OmDatabase, order_ids: pl.Series, settlement_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The OM invoices of these Amazon orders with their tolerance and what other settlements paid on
    them; and which of the orders the OM knows at all."""
    wanted = pl.DataFrame({"order_id": order_ids.unique()})
    with om.session(read_only=True) as con:
        con.register("wanted", wanted)
        known = con.execute("SELECT DISTINCT w.order_id FROM wanted w JOIN sales_order s "
                            "ON s.channel = ? AND s.external_order_id = w.order_id", [AMAZON_CHANNEL]).pl()
        invoices = con.execute(f"SELECT a.* FROM ({AMAZON_INVOICES}) a JOIN wanted USING (order_id)", {"settlement": settlement_id, "channel": AMAZON_CHANNEL}).pl()
    return invoices.cast(INVOICE_SCHEMA).select(*INVOICE_SCHEMA), known


def open_invoices(om: OmDatabase) -> pl.DataFrame:
    """Every Amazon invoice not paid yet: unpaid, overdue or disputed."""
    with om.session(read_only=True) as con:
        found = con.execute(f"SELECT * FROM ({AMAZON_INVOICES}) WHERE payment_status <> 'paid'", {"settlement": "", "channel": AMAZON_CHANNEL}).pl()
    return found.cast(INVOICE_SCHEMA).select(*INVOICE_SCHEMA)


def apply_payments(om: OmDatabase, payments: pl.DataFrame, invoices: pl.DataFrame) -> int:
    """One settlement's payments and the invoices' new payment status, in one OM transaction; a
    payment already recorded for this settlement is not recorded again. Returns payments inserted."""
    with om.session() as con:
        con.begin()
        inserted = om.insert_missing(con, "invoice_payment", payments, ("invoice_id", "settlement_id"))
        om.update_matching(con, "invoice", invoices.select("invoice_id", "payment_status", paid_amount="settled", paid_at="paid_at"),
                           ("invoice_id",))
        con.commit()
    return inserted


def mark_overdue(om: OmDatabase, overdue: pl.DataFrame) -> None:
    """Terms: these unpaid invoices are past their due date."""
    with om.session() as con:
        con.begin()
        om.update_matching(con, "invoice", overdue.select("invoice_id", "payment_status"), ("invoice_id",))
        con.commit()
