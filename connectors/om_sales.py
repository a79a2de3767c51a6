"""Sales orders in the OM: the set-based reads and writes the orders flow needs, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl

from omsync.connectors.om import OmDatabase
from omsync.core.marketplaces import AMAZON_CHANNEL as CHANNEL


@dataclass(frozen=True)
class LoadResult:
    customers_created: int
    orders_created: int
    lines_created: int
    holds_created: int
    ids: pl.DataFrame  # order_id, sales_order_id, customer_id


@dataclass(frozen=True)
class CancelResult:
    cancelled: pl.DataFrame  # order_id
    already_shipped: pl.DataFrame  # order_id: cancelled by Amazon after the OM shipped it


def item_codes(om: OmDatabase) -> pl.DataFrame:
    """Every OM item (item_id, item_code): an order line's SKU is an item code."""
    return om.read("SELECT item_id, item_code FROM item")


def orders_in_om(om: OmDatabase, order_ids: pl.Series) -> pl.Series:
    """Which of these Amazon orders the OM already has."""
    with om.session(read_only=True) as con:
        con.register("wanted", pl.DataFrame({"order_id": order_ids}))
        return con.execute("SELECT external_order_id FROM sales_order JOIN wanted ON external_order_id = order_id "
                           "WHERE channel = ?", [CHANNEL]).pl()["external_order_id"]


def candidate_customers(om: OmDatabase, orders: pl.DataFrame) -> pl.DataFrame:
    """OM customers that could be these buyers: the same e-mail, or the same postal code and country."""
    keys = orders.select(email=pl.col("buyer_email").str.to_lowercase(), postal_code="ship_postal_code", country="ship_country")
    with om.session(read_only=True) as con:
        con.register("buyer_keys", keys)
        return con.execute(
            """
            SELECT c.customer_id, c.customer_no, c.name, c.email, c.address1, c.postal_code, c.country, c.created_at
            FROM customer c SEMI JOIN buyer_keys k ON lower(c.email) = k.email
            UNION
            SELECT c.customer_id, c.customer_no, c.name, c.email, c.address1, c.postal_code, c.country, c.created_at
            FROM customer c SEMI JOIN buyer_keys k ON c.postal_code = k.postal_code AND c.country = k.country
            """).pl()


def stock_by_site(om: OmDatabase, item_ids: pl.Series) -> pl.DataFrame:
    """Available stock (on-hand minus holds) per site of these items."""
    with om.session(read_only=True) as con:
        con.register("wanted_items", pl.DataFrame({"item_id": item_ids.unique()}))
        return con.execute(
            """
            SELECT i.item_id, i.site_id, s.code, i.on_hand - coalesce(h.held, 0) AS available
            FROM inventory i JOIN wanted_items USING (item_id) JOIN site s USING (site_id)
            LEFT JOIN (SELECT item_id, site_id, sum(qty) AS held FROM inventory_hold GROUP BY ALL) h USING (item_id, site_id)
            """).pl()


def load_orders(om: OmDatabase, orders: pl.DataFrame, lines: pl.DataFrame, customers: pl.DataFrame, terms_code: str) -> LoadResult:
    """Create customers, sales orders, lines and holds that do not exist yet, in one transaction.
    orders: flattened orders with customer_no and om_status; lines: flattened lines with item_id,
    qty_shipped and site_id (where a hold is due)."""
    now = datetime.now(timezone.utc)
    with om.session() as con:
        con.begin()
        created_customers = om.insert_missing(con, "customer", customers.with_columns(source=pl.lit(CHANNEL), created_at=pl.lit(now)), ("customer_no",))
        con.register("batch_orders", orders.select("order_id", "customer_no"))
        customer_ids = con.execute("SELECT b.order_id, c.customer_id FROM batch_orders b JOIN customer c USING (customer_no)").pl()
        rows = orders.join(customer_ids, on="order_id").select(
            order_no=pl.format("AMZ-{}", "order_id"), channel=pl.lit(CHANNEL), external_order_id="order_id", marketplace_id="marketplace_id",
            customer_id="customer_id", order_date="created",
            status="om_status",
            fulfilled_by="fulfilled_by", currency="currency", subtotal="subtotal", shipping="shipping", tax="tax", discount="discount",
            total="total", terms_code=pl.lit(terms_code), ship_to_name="ship_name", ship_to_address1="ship_address1",
            ship_to_address2="ship_address2", ship_to_city="ship_city", ship_to_region="ship_region",
            ship_to_postal_code="ship_postal_code", ship_to_country="ship_country")
        created_orders = om.insert_missing(con, "sales_order", rows, ("channel", "external_order_id"))
        ids = con.execute("SELECT b.order_id, s.sales_order_id, s.customer_id, s.fulfilled_by FROM batch_orders b "
                          "JOIN sales_order s ON s.external_order_id = b.order_id AND s.channel = ?", [CHANNEL]).pl()
        line_rows = lines.join(ids.select("order_id", "sales_order_id"), on="order_id").select(
            "sales_order_id", "line_no", "item_id", "qty_shipped", external_line_id="order_item_id", qty_ordered="quantity",
            unit_price="unit_price", line_total="line_total", tax="tax", shipping="shipping", discount="discount")
        created_lines = om.insert_missing(con, "sales_order_line", line_rows, ("sales_order_id", "line_no"))
        con.register("batch_ids", ids)
        line_ids = con.execute("SELECT l.line_id, l.sales_order_id, l.line_no FROM sales_order_line l JOIN batch_ids USING (sales_order_id)").pl()
        holds = (
            lines.filter(pl.col("site_id").is_not_null()).join(ids.select("order_id", "sales_order_id"), on="order_id")
            .join(line_ids, on=["sales_order_id", "line_no"])
            .select("item_id", "site_id", qty="quantity", sales_order_line_id="line_id", reason=pl.lit("sales order"))
        )
        created_holds = om.insert_missing(con, "inventory_hold", holds, ("sales_order_line_id",))
        con.commit()
    return LoadResult(created_customers, created_orders, created_lines, created_holds, ids.select("order_id", "sales_order_id", "customer_id"))


def cancel_orders(om: OmDatabase, order_ids: pl.Series, cancellable: Callable[[pl.DataFrame], pl.DataFrame],
                  needs_a_person: Callable[[pl.DataFrame], pl.DataFrame]) -> CancelResult:
    """Amazon cancelled these imported orders: in one transaction, read what the OM holds of them
    (order_id, sales_order_id, status, shipped), cancel the orders the rule `cancellable` picks and
    release their holds; `needs_a_person` picks the ones a person must decide on."""
    with om.session() as con:
        con.begin()
        con.register("cancelled_ids", pl.DataFrame({"order_id": order_ids}))
        found = con.execute(
            """
            SELECT s.external_order_id AS order_id, s.sales_order_id, s.status,
                   EXISTS (SELECT 1 FROM shipping_order o WHERE o.sales_order_id = s.sales_order_id AND o.status IN ('shipped', 'closed'))
                   OR EXISTS (SELECT 1 FROM sales_order_line l WHERE l.sales_order_id = s.sales_order_id AND l.qty_shipped > 0) AS shipped
            FROM sales_order s JOIN cancelled_ids c ON s.external_order_id = c.order_id
            WHERE s.channel = ?
            """, [CHANNEL]).pl()
        to_cancel = cancellable(found)
        if to_cancel.height:
            con.register("to_cancel", to_cancel.select("sales_order_id"))
            con.execute(f"UPDATE {om.table_ref('sales_order')} SET status = 'cancelled' WHERE sales_order_id IN (SELECT sales_order_id FROM to_cancel)")
            con.execute(f"DELETE FROM {om.table_ref('inventory_hold')} WHERE sales_order_line_id IN "
                        f"(SELECT line_id FROM sales_order_line WHERE sales_order_id IN (SELECT sales_order_id FROM to_cancel))")
        con.commit()
    return CancelResult(to_cancel.select("order_id"), needs_a_person(found).select("order_id"))
