"""Which SKUs Amazon must hear about, compared with what it last accepted (ops.listing_state)."""

from __future__ import annotations

import polars as pl

from omsync.core.schemas import STATE_SCHEMAS  # noqa: F401 (the schema flows read listing state with)


def select_quantity_changes(quantities: pl.DataFrame, state: pl.DataFrame, full: bool = False) -> pl.DataFrame:
    """Offered SKUs whose quantity differs from what Amazon accepted (all of them with `full`), and
    SKUs leaving Amazon, which get 0 once: until Amazon accepted or refused that 0, then left alone."""
    joined = quantities.join(state.select("sku", "quantity_sent", "quantity_accepted", "quantity_verdict"), on="sku", how="left")
    offered = pl.col("included") & (pl.lit(full) | pl.col("quantity_accepted").is_null() | (pl.col("quantity") != pl.col("quantity_accepted")))
    zero_settled = (pl.col("quantity_sent") == 0) & pl.col("quantity_verdict").is_in(["ACCEPTED", "REJECTED"])
    leaving = ~pl.col("included") & pl.col("quantity_verdict").is_not_null() & (pl.col("quantity_accepted") != 0).fill_null(True) & ~zero_settled.fill_null(False)
    return joined.filter(offered | leaving).select(
        "sku", "product_type", quantity=pl.when(pl.col("included")).then(pl.col("quantity")).otherwise(0), leaving=~pl.col("included"),
    ).sort("sku")


def urgent_zeros(changes: pl.DataFrame, state: pl.DataFrame, cap: int) -> pl.DataFrame:
    """SKUs Amazon shows as available that are now at 0: the oversell risk, sent at once (at most `cap`)."""
    return (
        changes.filter(pl.col("quantity") == 0)
        .join(state.filter(pl.col("quantity_accepted") > 0).select("sku", "quantity_accepted"), on="sku")
        .sort("quantity_accepted", "sku", descending=[True, False])
        .head(cap)
        .select("sku", "product_type", "quantity")
    )


def quantity_patches(quantity: int) -> list[dict]:
    """The JSON Patch that sets a merchant-fulfilled quantity and keeps the other availability fields."""
    return [{"op": "merge", "path": "/attributes/fulfillment_availability",
             "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}]


def quantity_messages(changes: pl.DataFrame) -> pl.Series:
    """One JSON_LISTINGS_FEED PATCH message per row (without messageId, which the feed assigns)."""
    availability = pl.struct(fulfillment_channel_code=pl.lit("DEFAULT"), quantity=pl.col("quantity"))
    patch = pl.struct(op=pl.lit("merge"), path=pl.lit("/attributes/fulfillment_availability"), value=pl.concat_list(availability))
    message = pl.struct(sku="sku", operationType=pl.lit("PATCH"), productType="product_type", patches=pl.concat_list(patch))
    return changes.select(message.struct.json_encode().alias("message")).to_series()
