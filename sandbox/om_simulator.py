"""The OM's own warehouse, simulated: it ships open merchant-fulfilled Amazon orders (some in part,
some with carriers Amazon does not know, a few without a tracking number), creating shipping orders
and one invoice per sales order under its Terms, as the OM does. omsync never invents these."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from omsync.connectors.om import OmDatabase

CARRIERS = [("UPS", "Ground"), ("USPS", "Priority Mail"), ("FedEx", "Home Delivery"), ("DHL", "Express"), ("Hermes Logistik", "Paket")]


def ship_orders(om: OmDatabase, share: float = 0.5, seed: int = 0, when: datetime | None = None, whole: bool = False) -> pl.DataFrame:
    """Ship about `share` of the open merchant-fulfilled Amazon orders with lines still to ship; orders
    with several lines ship their first open line only, unless `whole`. Returns the shipping orders created."""
    when = when or datetime.now(timezone.utc)
    with om.session() as con:
        con.begin()
        lines = con.execute(
            """
            WITH shipped AS (
                SELECT sl.line_id, sum(sl.qty) AS qty FROM shipping_order_line sl JOIN shipping_order o USING (shipping_order_id)
                WHERE o.status <> 'cancelled' GROUP BY sl.line_id),
            held AS (SELECT sales_order_line_id AS line_id, min(site_id) AS site_id FROM inventory_hold
                     WHERE sales_order_line_id IS NOT NULL GROUP BY 1)
            SELECT s.sales_order_id, s.customer_id, s.total, s.currency, s.terms_code, l.line_id, l.line_no, l.qty_ordered,
                   l.qty_ordered - coalesce(shipped.qty, 0) AS open_qty, held.site_id
            FROM sales_order s JOIN sales_order_line l USING (sales_order_id)
            LEFT JOIN shipped USING (line_id) LEFT JOIN held USING (line_id)
            WHERE s.channel = 'AMAZON' AND s.fulfilled_by = 'MERCHANT' AND s.status = 'open'
            """).pl().filter(pl.col("open_qty") > 0)
        chosen = (lines.select("sales_order_id").unique().sort("sales_order_id")
                  .filter((pl.col("sales_order_id").hash(seed=seed) % 1000) < int(share * 1000))["sales_order_id"])
        lines = lines.filter(pl.col("sales_order_id").is_in(chosen.implode()))
        # several lines: ship the first now, the rest in a later shipment (a partial shipment)
        shipped = lines if whole else lines.filter(pl.col("line_no") == pl.col("line_no").min().over("sales_order_id"))
        heads = shipped.group_by("sales_order_id").agg(pl.col("site_id").first()).sort("sales_order_id")
        pick = (pl.col("sales_order_id").hash(seed=seed + 1) % len(CARRIERS)).cast(pl.Int64)
        orders = heads.with_columns(
            status=pl.lit("shipped"),
            carrier=pl.lit(pl.Series([c for c, _ in CARRIERS])).gather(pick),
            service=pl.lit(pl.Series([s for _, s in CARRIERS])).gather(pick),
            tracking_no=pl.when(pl.col("sales_order_id").hash(seed=seed + 2) % 50 == 0).then(None)
            .otherwise(pl.format("1Z{}", (pl.col("sales_order_id").hash(seed=seed + 3) % 10**12).cast(pl.String).str.zfill(12))),
            ship_date=pl.lit(when),
        )
        existing = con.execute("SELECT coalesce(max(shipping_order_id), 0) FROM shipping_order").fetchone()[0]
        rows = orders.with_columns(shipping_order_id=pl.int_range(existing + 1, existing + 1 + pl.len(), dtype=pl.Int64))
        om.insert_missing(con, "shipping_order", rows.select("shipping_order_id", "sales_order_id", "site_id", "status", "carrier",
                                                             "service", "tracking_no", "ship_date"), ("shipping_order_id",))
        om.insert_missing(con, "shipping_order_line", shipped.join(rows.select("sales_order_id", "shipping_order_id"), on="sales_order_id")
                          .select("shipping_order_id", "line_id", qty="open_qty"), ("shipping_order_id", "line_id"))
        terms = con.execute("SELECT terms_code, net_days FROM terms").pl()
        invoices = (
            lines.group_by("sales_order_id").agg(pl.col("customer_id", "total", "currency", "terms_code").first())
            .join(terms, on="terms_code", how="left")
            .select("sales_order_id", "customer_id", "terms_code", "currency", amount="total",
                    invoice_no=pl.format("INV-{}", pl.col("sales_order_id").cast(pl.String).str.zfill(8)),
                    invoice_date=pl.lit(when.date()),
                    due_date=pl.lit(when.date()) + pl.duration(days=pl.col("net_days").fill_null(14)),
                    status=pl.lit("open"), payment_status=pl.lit("unpaid"))
        )
        om.insert_missing(con, "invoice", invoices, ("invoice_no",))
        con.commit()
    return rows.drop("site_id")


def ship_the_rest(om: OmDatabase, when: datetime | None = None, seed: int = 0) -> pl.DataFrame:
    """A later shipment of every line still open on orders that have shipped in part."""
    return ship_orders(om, share=1.0, seed=seed, when=(when or datetime.now(timezone.utc)) + timedelta(hours=1), whole=True)
