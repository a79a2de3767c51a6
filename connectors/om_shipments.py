"""Shipping orders in the OM: what shipped and awaits Amazon's acknowledgement, and closing it afterwards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import polars as pl

from omsync.connectors.om import OmDatabase
from omsync.core.marketplaces import AMAZON_CHANNEL


def shipped_unconfirmed(om: OmDatabase) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Shipping orders of Amazon merchant-fulfilled sales orders that are `shipped` and not confirmed,
    and their lines with Amazon's orderItemId."""
    with om.session(read_only=True) as con:
        shipments = con.execute(
            """
            SELECT o.shipping_order_id, s.external_order_id AS order_id, s.status AS order_status, o.carrier, o.service,
                   o.tracking_no, o.ship_date, o.confirmation_error
            FROM shipping_order o JOIN sales_order s USING (sales_order_id)
            WHERE s.channel = ? AND s.fulfilled_by = 'MERCHANT' AND o.status = 'shipped' AND o.confirmed_at IS NULL
            ORDER BY o.shipping_order_id
            """, [AMAZON_CHANNEL]).pl()
        lines = con.execute(
            """
            SELECT sl.shipping_order_id, l.external_line_id AS order_item_id, sl.qty
            FROM shipping_order_line sl JOIN sales_order_line l USING (line_id)
            JOIN shipping_order o USING (shipping_order_id)
            WHERE o.status = 'shipped' AND o.confirmed_at IS NULL
            ORDER BY sl.shipping_order_id, l.line_no
            """).pl()
    return shipments, lines


def close_confirmed(om: OmDatabase, confirmed: pl.Series, done: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame]) -> dict[str, int]:
    """Amazon acknowledged these shipping orders: close them, count what shipped, release the holds,
    then close the sales orders (and their open invoices) that the rule `done` picks from their shipping
    orders (sales_order_id, status) and lines (sales_order_id, qty_ordered, qty_shipped) — one transaction."""
    if confirmed.is_empty():
        return {"shipping orders closed": 0, "invoices closed": 0}
    now = datetime.now(timezone.utc)
    t = om.table_ref
    with om.session() as con:
        con.begin()
        con.register("confirmed", pl.DataFrame({"shipping_order_id": confirmed}))
        closed = con.execute(f"UPDATE {t('shipping_order')} SET status = 'closed', confirmed_at = ?, confirmation_error = NULL "
                             "WHERE status = 'shipped' AND shipping_order_id IN (SELECT shipping_order_id FROM confirmed)", [now]).fetchone()[0]
        touched = con.execute("SELECT DISTINCT sales_order_id FROM shipping_order WHERE shipping_order_id IN (SELECT shipping_order_id FROM confirmed)").pl()
        con.register("touched", touched)
        con.execute(
            f"""
            UPDATE {t('sales_order_line')} AS l SET qty_shipped = s.shipped FROM (
                SELECT sl.line_id, sum(sl.qty) AS shipped FROM shipping_order_line sl JOIN shipping_order o USING (shipping_order_id)
                WHERE o.status = 'closed' AND o.sales_order_id IN (SELECT sales_order_id FROM touched) GROUP BY sl.line_id) s
            WHERE l.line_id = s.line_id
            """)
        con.execute(
            f"""
            UPDATE {t('inventory_hold')} AS h SET qty = h.qty - least(h.qty, s.shipped) FROM (
                SELECT sl.line_id, sum(sl.qty) AS shipped FROM shipping_order_line sl
                WHERE sl.shipping_order_id IN (SELECT shipping_order_id FROM confirmed) GROUP BY sl.line_id) s
            WHERE h.sales_order_line_id = s.line_id
            """)
        con.execute(f"DELETE FROM {t('inventory_hold')} WHERE qty <= 0 AND sales_order_line_id IS NOT NULL")
        shipping_orders = con.execute("SELECT sales_order_id, status FROM shipping_order JOIN touched USING (sales_order_id)").pl()
        lines = con.execute("SELECT sales_order_id, qty_ordered, qty_shipped FROM sales_order_line JOIN touched USING (sales_order_id)").pl()
        con.register("done", done(shipping_orders, lines).select("sales_order_id"))
        invoices = con.execute(f"UPDATE {t('invoice')} SET status = 'closed' WHERE status = 'open' AND sales_order_id IN (SELECT sales_order_id FROM done)").fetchone()[0]
        con.execute(f"UPDATE {t('sales_order')} SET status = 'closed' WHERE status = 'open' AND sales_order_id IN (SELECT sales_order_id FROM done)")
        con.commit()
    return {"shipping orders closed": closed, "invoices closed": invoices}


def record_errors(om: OmDatabase, rejected: pl.DataFrame) -> None:
    """Amazon refused these confirmations (shipping_order_id, message): the OM shows why."""
    if rejected.is_empty():
        return
    with om.session() as con:
        con.begin()
        con.register("rejected", rejected)
        con.execute(f"UPDATE {om.table_ref('shipping_order')} AS o SET confirmation_error = r.message FROM rejected r "
                    "WHERE o.shipping_order_id = r.shipping_order_id")
        con.commit()
