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
