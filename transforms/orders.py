"""Amazon orders (Orders API 2026-01-01) as OM sales orders: flatten orders and items, money from
`proceeds` as Decimal, decide what to import, cancel or keep waiting, and where to hold stock."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from omsync.core.schemas import ORDER_SCHEMA, PII_FIELDS  # noqa: F401 (the raw order rows these transforms read)

MONEY = pl.Decimal(18, 4)


def _money(expr: pl.Expr) -> pl.Expr:
    return expr.struct.field("amount").cast(MONEY)


def _breakdown(breakdowns: pl.Expr, kind: str) -> pl.Expr:
    """The sum of one type of proceeds breakdown (0 when absent)."""
    return breakdowns.list.eval(
        pl.element().filter(pl.element().struct.field("type") == kind).struct.field("subtotal").struct.field("amount").cast(MONEY)
    ).list.sum().fill_null(0).cast(MONEY)


def flatten_orders(raw: pl.DataFrame) -> pl.DataFrame:
    """One row per order: identity, status, money (discount as a positive amount), buyer and ship-to."""
    address = pl.col("recipient").struct.field("deliveryAddress")
    breakdowns = pl.col("proceeds").struct.field("breakdowns")
    return raw.select(
        order_id="orderId",
        created=pl.col("createdTime").str.to_datetime(time_zone="UTC"),
        last_updated=pl.col("lastUpdatedTime").str.to_datetime(time_zone="UTC"),
        status=pl.col("fulfillment").struct.field("fulfillmentStatus"),
        fulfilled_by=pl.col("fulfillment").struct.field("fulfilledBy"),
        marketplace_id=pl.col("salesChannel").struct.field("marketplaceId"),
        currency=pl.col("proceeds").struct.field("grandTotal").struct.field("currencyCode"),
        subtotal=_breakdown(breakdowns, "ITEM"),
        shipping=_breakdown(breakdowns, "SHIPPING"),
        tax=_breakdown(breakdowns, "TAX"),
        discount=-_breakdown(breakdowns, "DISCOUNT"),
        total=_money(pl.col("proceeds").struct.field("grandTotal")),
        buyer_name=pl.col("buyer").struct.field("buyerName"),
        buyer_email=pl.col("buyer").struct.field("buyerEmail"),
        ship_name=address.struct.field("name"),
        ship_address1=address.struct.field("addressLine1"),
        ship_address2=address.struct.field("addressLine2"),
        ship_city=address.struct.field("city"),
        ship_region=address.struct.field("stateOrRegion"),
        ship_postal_code=address.struct.field("postalCode"),
        ship_country=address.struct.field("countryCode"),
        ship_phone=address.struct.field("phone"),
    )


def flatten_lines(raw: pl.DataFrame) -> pl.DataFrame:
    """One row per order item, numbered 1…n within its order by orderItemId."""
    items = raw.select(order_id="orderId", item=pl.col("orderItems")).explode("item").filter(pl.col("item").is_not_null())
    breakdowns = pl.col("item").struct.field("proceeds").struct.field("breakdowns")
    return items.select(
        "order_id",
        order_item_id=pl.col("item").struct.field("orderItemId"),
        sku=pl.col("item").struct.field("product").struct.field("sellerSku"),
        quantity=pl.col("item").struct.field("quantityOrdered"),
        unit_price=_money(pl.col("item").struct.field("product").struct.field("price").struct.field("unitPrice")),
        line_total=_breakdown(breakdowns, "ITEM"),
        shipping=_breakdown(breakdowns, "SHIPPING"),
        tax=_breakdown(breakdowns, "TAX"),  # on the item and its shipping
        discount=-_breakdown(breakdowns, "DISCOUNT"),
    ).sort("order_id", "order_item_id").with_columns(line_no=pl.int_range(1, pl.len() + 1).over("order_id"))


def latest_versions(raw: pl.DataFrame) -> pl.DataFrame:
    """Each order once, as last updated (overlapping windows and retries see orders twice)."""
    return raw.sort("lastUpdatedTime", "orderId").unique("orderId", keep="last", maintain_order=True)


@dataclass(frozen=True)
class OrderPlan:
    to_import: pl.DataFrame  # orders to create in OM now (not pending, not cancelled, every SKU known)
    to_cancel: pl.DataFrame  # order_id of imported orders Amazon has cancelled since
    waiting: pl.DataFrame  # order_id, reason: not importable yet, retried every run
    record: pl.DataFrame  # every order seen: marketplace_id, order_id, status, fulfilled_by, last_updated, import_state


def plan_orders(orders: pl.DataFrame, lines: pl.DataFrame, items: pl.DataFrame, in_om: pl.Series) -> OrderPlan:
    """What each Amazon order means for the OM now. `in_om`: the order ids the OM already has."""
    unknown = lines.join(items.select(sku="item_code"), on="sku", how="anti").group_by("order_id").agg(
        reason=pl.format("unknown SKU {}: waiting for the item to exist in the OM", pl.col("sku").unique().sort().str.join(", ")))
    seen = orders.join(unknown, on="order_id", how="left").with_columns(imported=pl.col("order_id").is_in(in_om.implode()))
    importable = ~pl.col("imported") & ~pl.col("status").is_in(["PENDING", "PENDING_AVAILABILITY", "CANCELLED"])
    state = (
        pl.when(pl.col("imported") & (pl.col("status") == "CANCELLED")).then(pl.lit("CANCELLED"))
        .when(pl.col("imported")).then(pl.lit("IMPORTED"))
        .when(pl.col("status") == "CANCELLED").then(pl.lit("CANCELLED_BEFORE_IMPORT"))
        .when(pl.col("status").is_in(["PENDING", "PENDING_AVAILABILITY"])).then(pl.lit("PENDING"))
        .when(pl.col("reason").is_not_null()).then(pl.lit("WAITING"))
        .otherwise(pl.lit("IMPORTED"))
    )
    return OrderPlan(
        to_import=seen.filter(importable & pl.col("reason").is_null()).drop("reason", "imported"),
        to_cancel=seen.filter(pl.col("imported") & (pl.col("status") == "CANCELLED")).select("order_id"),
        waiting=seen.filter(importable & pl.col("reason").is_not_null()).select("order_id", "reason"),
        record=seen.select("marketplace_id", "order_id", "status", "fulfilled_by", "last_updated", import_state=state),
    )


def choose_hold_sites(lines: pl.DataFrame, availability: pl.DataFrame) -> pl.DataFrame:
    """The site to commit each merchant-fulfilled line at: most available stock, ties by site code.
    availability: item_id, site_id, code, available (on-hand minus holds)."""
    best = availability.sort("item_id", "available", "code", descending=[False, True, False]).unique("item_id", keep="first", maintain_order=True)
    return lines.join(best.select("item_id", "site_id"), on="item_id", how="left")


CANCELLED_AFTER_SHIPPING = "Amazon cancelled an order the OM has already shipped: a person must decide"


def as_om_orders(orders: pl.DataFrame) -> pl.DataFrame:
    """An order Amazon fulfils is closed in the OM as soon as it is imported; one the seller ships stays open."""
    return orders.with_columns(om_status=pl.when(pl.col("fulfilled_by") == "AMAZON").then(pl.lit("closed")).otherwise(pl.lit("open")))


def as_om_lines(lines: pl.DataFrame, orders: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    """The lines of these orders with the OM item of their SKU; a line Amazon fulfils counts as shipped in full."""
    return (lines.join(orders.select("order_id", "fulfilled_by"), on="order_id")
            .join(items.select("item_id", sku="item_code"), on="sku")
            .with_columns(qty_shipped=pl.when(pl.col("fulfilled_by") == "AMAZON").then("quantity").otherwise(0)))


def lines_to_hold(lines: pl.DataFrame) -> pl.DataFrame:
    """Only the lines the seller ships hold OM stock (Amazon ships the others from its own)."""
    return lines.filter(pl.col("fulfilled_by") == "MERCHANT")


def order_outcomes(record: pl.DataFrame, waiting: pl.DataFrame, ids: pl.DataFrame, match_rules: pl.DataFrame,
                   shipped_before_cancel: pl.Series) -> pl.DataFrame:
    """What each order seen became (import state, reason, OM ids, customer match rule); an order Amazon
    cancelled after the OM shipped it is CANCELLED_AFTER_SHIPPING and needs a person."""
    after_shipping = pl.col("order_id").is_in(shipped_before_cancel.implode())
    return (record.join(waiting, on="order_id", how="left").join(ids, on="order_id", how="left")
            .join(match_rules.select("order_id", "match_rule"), on="order_id", how="left")
            .with_columns(import_state=pl.when(after_shipping).then(pl.lit("CANCELLED_AFTER_SHIPPING")).otherwise("import_state"),
                          reason=pl.when(after_shipping).then(pl.lit(CANCELLED_AFTER_SHIPPING)).otherwise("reason")))


def order_problems(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Every order with a reason is quarantined under its id, with Amazon's status as the raw value."""
    return outcomes.filter(pl.col("reason").is_not_null()).select(key="order_id", raw_value="status", reason="reason")


def cancellable(found: pl.DataFrame) -> pl.DataFrame:
    """An order Amazon cancelled is cancelled in the OM while it is open and nothing of it has shipped.
    found: order_id, sales_order_id, status (OM), shipped (a shipping order shipped or a line shipped)."""
    return found.filter(~pl.col("shipped") & (pl.col("status") == "open"))


def shipped_before_cancel(found: pl.DataFrame) -> pl.DataFrame:
    """An order Amazon cancelled after the OM shipped some of it goes to a person (refund or return)."""
    return found.filter(pl.col("shipped") & (pl.col("status") != "cancelled"))


def unchanged_orders(record: pl.DataFrame, created: int, changed: int) -> int:
    """Orders seen that the OM already had and that needed no change: with the new, changed, waiting, pending
    and cancelled-before-import ones, every order seen is counted once."""
    return record.filter(pl.col("import_state").is_in(["IMPORTED", "CANCELLED"])).height - created - changed
