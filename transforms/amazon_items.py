"""Which OM items are on Amazon, and as what product type (the AmazonItem attribute, docs/design.md)."""

from __future__ import annotations

import polars as pl

DEFAULT_PRODUCT_TYPE = "PRODUCT"
MAX_SKU_LENGTH = 40  # Amazon refuses longer seller SKUs


def sku_problem(sku: pl.Expr) -> pl.Expr:
    """Why Amazon cannot take this SKU (empty, or longer than 40 characters), or null when it can."""
    return (
        pl.when(sku.is_null() | (sku.str.strip_chars() == "")).then(pl.lit("empty SKU"))
        .when(sku.str.len_chars() > MAX_SKU_LENGTH).then(pl.lit(f"SKU longer than {MAX_SKU_LENGTH} characters: Amazon refuses it"))
    )


def offered_items(items: pl.DataFrame, attributes: pl.DataFrame, default_product_type: str = DEFAULT_PRODUCT_TYPE) -> pl.DataFrame:
    """Every item with its AmazonItem decision: included (active, attribute present, not `No`) and its product type."""
    amazon = attributes.filter(pl.col("name") == "AmazonItem").select("item_id", amazon_value=pl.col("value").str.strip_chars(), tag="tag")
    return items.join(amazon, on="item_id", how="left").select(
        "item_id",
        sku=pl.col("item_code"),
        backorderable=pl.col("backorderable").fill_null(False),
        included=pl.col("active").fill_null(False) & pl.col("amazon_value").is_not_null() & (pl.col("amazon_value").str.to_lowercase() != "no"),
        product_type=pl.when(pl.col("amazon_value").is_null() | pl.col("amazon_value").str.to_lowercase().is_in(["yes", "no", ""]))
        .then(pl.lit(default_product_type))
        .otherwise(pl.col("amazon_value")),
        tag=pl.col("tag").str.strip_chars(),
    )
