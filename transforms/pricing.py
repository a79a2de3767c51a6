"""Amazon offer prices from the OM's AmazonPrice attribute: validated exactly (Decimal, never
floats), guarded against fat fingers, and written as listings-feed messages."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from omsync.transforms.amazon_items import DEFAULT_PRODUCT_TYPE, offered_items, sku_problem
from omsync.transforms.om_values import unreadable_rows

MONEY = pl.Decimal(18, 4)
# ISO 4217 minor units of the currencies of Amazon marketplaces; two for the rest.
CURRENCY_DECIMALS = {"JPY": 0, "CLP": 0, "KRW": 0, "HUF": 2, "TND": 3, "KWD": 3, "BHD": 3, "OMR": 3}
NUMBER = r"^\d+(\.\d+)?$"
HELD_SCHEMA = {"sku": pl.String, "price": MONEY, "previous": MONEY, "change_percent": pl.Float64}


@dataclass(frozen=True)
class Prices:
    prices: pl.DataFrame  # sku, product_type, price
    quarantine: pl.DataFrame  # key, raw_value, reason


def currency_decimals(currency: str) -> int:
    return CURRENCY_DECIMALS.get(currency.upper(), 2)


def validate_prices(items: pl.DataFrame, attributes: pl.DataFrame, currency: str,
                    default_product_type: str = DEFAULT_PRODUCT_TYPE) -> Prices:
    """The price of every offered SKU; a SKU Amazon refuses, a missing, non-numeric, zero, negative or
    too large price, or one with more decimals than the currency has, is quarantined with the reason and not sent."""
    decimals = currency_decimals(currency)
    offered = offered_items(items, attributes, default_product_type).filter(pl.col("included"))
    raw = attributes.filter(pl.col("name") == "AmazonPrice").select("item_id", raw=pl.col("value"))
    text = pl.col("raw").str.strip_chars()
    fraction = text.str.extract(r"\.(\d+)$").str.len_chars().fill_null(0)
    reason = (
        pl.when(sku_problem(pl.col("sku")).is_not_null()).then(sku_problem(pl.col("sku")))
        .when(pl.col("raw").is_null() | (text == "")).then(pl.lit("no AmazonPrice"))
        .when(~text.str.contains(NUMBER)).then(pl.lit("AmazonPrice is not a plain decimal number (like 19.99)"))
        .when(fraction > decimals).then(pl.lit(f"AmazonPrice has more decimals than {currency.upper()} allows ({decimals})"))
        .when(text.cast(MONEY, strict=False).is_null()).then(pl.lit("AmazonPrice is too large (at most 14 digits before the point)"))
        .when(text.cast(MONEY, strict=False) <= 0).then(pl.lit("AmazonPrice must be above zero"))
    )
    checked = offered.join(raw, on="item_id", how="left").with_columns(reason=reason)
    prices = checked.filter(pl.col("reason").is_null()).select("sku", "product_type", price=text.cast(MONEY))
    quarantine = checked.filter(pl.col("reason").is_not_null()).select(
        key=pl.col("sku").fill_null(""), raw_value=pl.when(sku_problem(pl.col("sku")).is_not_null()).then(pl.col("sku")).otherwise(pl.col("raw")),
        reason=pl.format("{}; price not sent", pl.col("reason")))
    unreadable = pl.concat([
        unreadable_rows(items, pl.col("item_code").fill_null(pl.format("item_id={}", pl.col("item_id"))), "the item is read as inactive"),
        unreadable_rows(attributes, pl.format("{} of item {}", pl.col("name"), pl.col("item_id")), "the attribute is read as missing"),
    ])
    return Prices(prices, pl.concat([quarantine.cast(unreadable.schema), unreadable]))


def select_price_changes(prices: pl.DataFrame, state: pl.DataFrame, full: bool = False) -> pl.DataFrame:
    """Prices that differ from what Amazon accepted (every price with `full`), with that accepted price."""
    return (
        prices.join(state.select("sku", "price_accepted"), on="sku", how="left")
        .filter(pl.lit(full) | pl.col("price_accepted").is_null() | (pl.col("price") != pl.col("price_accepted")))
        .sort("sku")
    )


def guard_price_changes(changes: pl.DataFrame, approved: pl.DataFrame, max_drop: Decimal, max_rise: Decimal) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split changes into those to send and those held for a person: a fall of more than max_drop or a
    rise of more than max_rise (fractions) of the accepted price, unless that very price was approved.
    A SKU's first price is never held."""
    low = pl.col("price_accepted") * pl.lit(Decimal(1) - max_drop)
    high = pl.col("price_accepted") * pl.lit(Decimal(1) + max_rise)
    marked = changes.join(approved.select("sku", approved_price="price"), on="sku", how="left").with_columns(
        held=pl.col("price_accepted").is_not_null() & ((pl.col("price") < low) | (pl.col("price") > high))
        & (pl.col("approved_price").is_null() | (pl.col("approved_price") != pl.col("price"))))
    held = marked.filter("held").select(
        "sku", "price", previous=pl.col("price_accepted"),
        change_percent=((pl.col("price") - pl.col("price_accepted")) * 100 / pl.col("price_accepted")).cast(pl.Float64).round(1))
    return marked.filter(~pl.col("held")).drop("held", "approved_price"), held.cast(HELD_SCHEMA)


def _json_string(column: str) -> pl.Expr:
    """A column as JSON string literals, escaped by Polars' own JSON encoder."""
    return pl.struct(pl.col(column).alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")


def price_messages(changes: pl.DataFrame, marketplace_id: str, currency: str) -> pl.Series:
    """One PATCH per row replacing the offer: marketplace, currency, audience ALL and our_price with
    value_with_tax a JSON number written with the currency's decimals (19.90, not 19.9)."""
    amount = pl.col("price").cast(pl.Decimal(18, currency_decimals(currency))).cast(pl.String)
    offer = (',"operationType":"PATCH","productType":', f',"patches":[{{"op":"replace","path":"/attributes/purchasable_offer",'
             f'"value":[{{"marketplace_id":"{marketplace_id}","currency":"{currency.upper()}","audience":"ALL",'
             f'"our_price":[{{"schedule":[{{"value_with_tax":', "}]}]}]}]}")
    return changes.select(pl.concat_str([
        pl.lit('{"sku":'), _json_string("sku"), pl.lit(offer[0]), _json_string("product_type"), pl.lit(offer[1]), amount, pl.lit(offer[2]),
    ]).alias("message")).to_series()
