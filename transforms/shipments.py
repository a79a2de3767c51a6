"""Ship confirmations: one confirmShipment package per OM shipping order, or the reason it cannot be sent."""

from __future__ import annotations

import polars as pl

# OM carrier names (case-insensitive) → Amazon carrierCode; anything else goes as Other + carrierName.
DEFAULT_CARRIERS = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL", "amazon shipping": "Amazon Shipping",
                    "ontrac": "OnTrac", "royal mail": "Royal Mail", "dpd": "DPD", "gls": "GLS", "canada post": "Canada Post"}


def build_packages(shipments: pl.DataFrame, lines: pl.DataFrame, carriers: dict[str, str] = DEFAULT_CARRIERS) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(sendable, unsendable): packageReferenceId is the shipping order id (stable and positive), the
    carrier mapped to Amazon's code, the items and quantities that shipped, and a fingerprint of all
    of it (a refused confirmation is sent again only when it changes)."""
    mapping = pl.DataFrame({"carrier_key": list(carriers), "carrier_code": list(carriers.values())})
    items = lines.group_by("shipping_order_id").agg(
        items=pl.struct(orderItemId="order_item_id", quantity="qty"),
        missing_item=pl.col("order_item_id").is_null().any(),
    )
    joined = (
        shipments.with_columns(carrier_key=pl.col("carrier").str.strip_chars().str.to_lowercase())
        .join(mapping, on="carrier_key", how="left").join(items, on="shipping_order_id", how="left")
    )
    reason = (
        pl.when(pl.col("order_status") == "cancelled").then(pl.lit("the sales order is cancelled"))
        .when(pl.col("tracking_no").is_null() | (pl.col("tracking_no").str.strip_chars() == "")).then(pl.lit("no tracking number"))
        .when(pl.col("items").is_null()).then(pl.lit("no shipping order lines"))
        .when(pl.col("missing_item")).then(pl.lit("a line has no Amazon orderItemId"))
        .when(pl.col("carrier").is_null()).then(pl.lit("no carrier"))
    )
    checked = joined.with_columns(reason=reason)
    sendable = checked.filter(pl.col("reason").is_null()).select(
        "shipping_order_id", "order_id", "confirmation_error",
        package_reference_id=pl.col("shipping_order_id").cast(pl.String),
        carrier_code=pl.col("carrier_code").fill_null("Other"),
        carrier_name=pl.when(pl.col("carrier_code").is_null()).then(pl.col("carrier")),
        shipping_method="service", tracking_number=pl.col("tracking_no").str.strip_chars(),
        ship_date=pl.col("ship_date").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        items="items",
    ).with_columns(fingerprint=pl.concat_str([
        "package_reference_id", "carrier_code", pl.col("carrier_name").fill_null(""), pl.col("shipping_method").fill_null(""),
        "tracking_number", "ship_date", pl.col("items").list.eval(pl.element().struct.json_encode()).list.join(",")], separator="|").hash().cast(pl.String))
    unsendable = checked.filter(pl.col("reason").is_not_null()).select(
        key=pl.col("shipping_order_id").cast(pl.String), raw_value="order_id", reason=pl.format("{}; not sent to Amazon", "reason"))
    return sendable, unsendable


def retry_filter(packages: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """Leave out confirmations Amazon refused (400) whose content has not changed since."""
    refused = previous.filter(pl.col("outcome") == "REJECTED").select("shipping_order_id", refused_fingerprint="fingerprint")
    return packages.join(refused, on="shipping_order_id", how="left").filter(
        pl.col("refused_fingerprint").is_null() | (pl.col("refused_fingerprint") != pl.col("fingerprint"))).drop("refused_fingerprint")


def package_details(packages: pl.DataFrame) -> list[tuple[int, str, dict]]:
    """Amazon's packageDetail of each package (shipping_order_id, order_id, detail); carrierName and
    shippingMethod go only when the OM has them."""
    details = []
    for package in packages.iter_rows(named=True):
        detail = {"packageReferenceId": package["package_reference_id"], "carrierCode": package["carrier_code"],
                  "trackingNumber": package["tracking_number"], "shipDate": package["ship_date"], "orderItems": package["items"]}
        if package["carrier_name"]:
            detail["carrierName"] = package["carrier_name"]
        if package["shipping_method"]:
            detail["shippingMethod"] = package["shipping_method"]
        details.append((package["shipping_order_id"], package["order_id"], detail))
    return details


def shipment_problems(results: pl.DataFrame, packages: pl.DataFrame) -> pl.DataFrame:
    """A confirmation Amazon answered 404 for is quarantined under its shipping order: the OM's order id is wrong."""
    return results.filter(pl.col("outcome") == "NOT_FOUND").join(packages.select("shipping_order_id", "order_id"), on="shipping_order_id").select(
        key=pl.col("shipping_order_id").cast(pl.String), raw_value="order_id",
        reason=pl.lit("Amazon does not know this order (404): check the order id in the OM"))


def refusals(results: pl.DataFrame, packages: pl.DataFrame) -> pl.DataFrame:
    """Every confirmation Amazon did not confirm, with its outcome and message, for the person reading the run."""
    return results.filter(pl.col("outcome") != "CONFIRMED").join(packages.select("shipping_order_id", "order_id"), on="shipping_order_id").select(
        key=pl.col("shipping_order_id").cast(pl.String), raw_value="order_id", reason=pl.format("{}: {}", "outcome", "message"))


def carrier_codes(carriers: dict[str, str] | None) -> dict[str, str]:
    """OM carrier names match Amazon's carrier codes whatever their case; none given: DEFAULT_CARRIERS."""
    return {name.lower(): code for name, code in (carriers or DEFAULT_CARRIERS).items()}


def invoices_to_close(shipping_orders: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """A sales order (and its open invoice) closes once every shipping order of it is closed or cancelled
    and every line has shipped in full; a partial shipment keeps it open.
    shipping_orders: sales_order_id, status; lines: sales_order_id, qty_ordered, qty_shipped."""
    unfinished = pl.concat([
        shipping_orders.filter(~pl.col("status").is_in(["closed", "cancelled"])).select("sales_order_id"),
        lines.filter(pl.col("qty_shipped") < pl.col("qty_ordered")).select("sales_order_id"),
    ])
    return shipping_orders.select("sales_order_id").unique().join(unfinished, on="sales_order_id", how="anti")
