"""Available-to-sell per Amazon SKU (docs/design.md): stock over all sites minus holds, backorderable
items at a fixed level, and the reserve rule of the AmazonItem Tag `Value:Calculation_ID[:Site]`."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from omsync.transforms.amazon_items import DEFAULT_PRODUCT_TYPE, offered_items, sku_problem
from omsync.transforms.om_values import unreadable_rows

MAX_QUANTITY = 99_999
BACKORDER_QUANTITY = 1000
SCALE = 10_000  # Tag values are exact to four decimals: integer arithmetic, no float rounding
TAG_PATTERN = r"^\s*(\d+(?:\.\d{1,4})?)\s*:\s*(\d+)\s*(?::\s*([^:\s]+)\s*)?$"
KNOWN_CALCULATIONS = [0, 1, 2, 3, 6]
# Counts are summed and scaled in 128 bits: 2^62 units at each of three sites overflow 64 bits.
WIDE = pl.Int128


@dataclass(frozen=True)
class Quantities:
    quantities: pl.DataFrame  # sku, product_type, quantity, included (False: leaving Amazon)
    quarantine: pl.DataFrame  # key, raw_value, reason


QUARANTINE_SCHEMA = {"key": pl.String, "raw_value": pl.String, "reason": pl.String}


def parse_tags(offered: pl.DataFrame, site_codes: pl.Series) -> pl.DataFrame:
    """Split each Tag into value (scaled by 10⁴), calculation id and site; say why when it is invalid."""
    # A catalogue uses a handful of distinct Tags: parse each once, not once per item.
    parsed = _parse_distinct_tags(offered.select("tag").unique(), site_codes)
    return offered.join(parsed, on="tag", how="left", nulls_equal=True)


def _parse_distinct_tags(tags: pl.DataFrame, site_codes: pl.Series) -> pl.DataFrame:
    parts = pl.col("tag").str.extract_groups(TAG_PATTERN)
    blank = pl.col("tag").is_null() | (pl.col("tag") == "") | (pl.col("tag") == "0")
    parsed = tags.with_columns(parts=parts).with_columns(
        value=(pl.col("parts").struct.field("1").cast(pl.Decimal(18, 4), strict=False) * SCALE).cast(WIDE),
        calculation=pl.col("parts").struct.field("2").cast(pl.Int64, strict=False),
        site=pl.col("parts").struct.field("3"),
    )
    percent = pl.col("calculation").is_in([2, 6])
    reason = (
        pl.when(blank).then(None)
        .when(pl.col("parts").struct.field("1").is_null()).then(pl.lit("Tag is not Value:Calculation_ID[:Site] with a non-negative Value"))
        .when(pl.col("value").is_null()).then(pl.lit("Tag Value is too large (at most 14 digits before the point)"))
        .when(~pl.col("calculation").is_in(KNOWN_CALCULATIONS)).then(pl.format("unknown Calculation_ID {} (known: 0, 1, 2, 3, 6)", pl.col("calculation")))
        .when(percent & (pl.col("value") > 100 * SCALE)).then(pl.lit("a percentage Value must be at most 100"))
        .when(pl.col("site").is_not_null() & ~pl.col("site").is_in(site_codes.implode())).then(pl.format("unknown site code {}", pl.col("site")))
    )
    return parsed.with_columns(tag_error=reason).with_columns(
        calculation=pl.when(blank | pl.col("tag_error").is_not_null()).then(0).otherwise(pl.col("calculation")),
        site=pl.when(pl.col("tag_error").is_null()).then(pl.col("site")),
    ).drop("parts")


def stock_by_item(inventory: pl.LazyFrame, holds: pl.LazyFrame, sites: pl.LazyFrame, scoped: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Available units per item over all sites, and per (item, site code) for the items in `scoped`
    (those with a site-scoped Tag): on-hand minus holds, floored at 0. Inventory is one row per item
    and site (the OM's key); holds may be many. Oversell-safe: an on-hand that cannot be read (null)
    counts as 0, and a hold whose quantity cannot be read leaves nothing available."""
    inventory = inventory.with_columns(pl.col("on_hand").cast(WIDE))
    holds = holds.with_columns(pl.col("qty").cast(WIDE))
    on_hand = inventory.group_by("item_id").agg(on_hand=pl.col("on_hand").sum())
    held = holds.group_by("item_id").agg(held=pl.col("qty").sum(), blocked=pl.col("qty").is_null().any())
    total = on_hand.join(held, on="item_id", how="full", coalesce=True).select(
        "item_id", all_sites=pl.when(pl.col("blocked").fill_null(False)).then(pl.lit(0, WIDE))
        .otherwise(pl.col("on_hand").fill_null(0) - pl.col("held").fill_null(0)).clip(lower_bound=0))
    wanted = scoped.join(sites.select("site_id", site="code"), on="site")
    site_on_hand = inventory.join(wanted, on=["item_id", "site_id"], how="semi").select("item_id", "site_id", "on_hand")
    site_held = holds.join(wanted, on=["item_id", "site_id"], how="semi").group_by("item_id", "site_id").agg(held=pl.col("qty").sum())
    by_site = (
        wanted.join(site_on_hand, on=["item_id", "site_id"], how="left").join(site_held, on=["item_id", "site_id"], how="left")
        .select("item_id", "site", site_available=(pl.col("on_hand").fill_null(0) - pl.col("held").fill_null(0)).clip(lower_bound=0))
    )
    return total, by_site


def apply_reserve(base: pl.Expr, calculation: pl.Expr, value: pl.Expr) -> pl.Expr:
    """None (0): available; Fixed (1): at most Value; Adjusted Negative Percentage (2): keep back Value %;
    Adjusted Negative Fixed (3): keep back Value units; Percent (6): list Value % — rounded down."""
    hundred = 100 * SCALE
    return (
        pl.when(calculation == 1).then(pl.min_horizontal(base, value // SCALE))
        .when(calculation == 2).then(base * (hundred - value) // hundred)
        .when(calculation == 3).then((base * SCALE - value) // SCALE)
        .when(calculation == 6).then(base * value // hundred)
        .otherwise(base)
    )


def compute_quantities(
    items: pl.DataFrame,
    attributes: pl.DataFrame,
    inventory: pl.DataFrame,
    holds: pl.DataFrame,
    sites: pl.DataFrame,
    backorder_quantity: int = BACKORDER_QUANTITY,
    default_product_type: str = DEFAULT_PRODUCT_TYPE,
) -> Quantities:
    """The quantity Amazon may sell of every offered SKU, and the bad input found on the way."""
    offered = parse_tags(offered_items(items, attributes, default_product_type), sites["code"]).lazy()
    scoped = offered.filter(pl.col("site").is_not_null()).select("item_id", "site")
    total, by_site = stock_by_item(inventory.lazy(), holds.lazy(), sites.lazy(), scoped)
    joined = (
        offered.join(total, on="item_id", how="left")
        .join(by_site, on=["item_id", "site"], how="left")
        .with_columns(pl.col("all_sites", "site_available").fill_null(0))
    )
    # A site's units already promised elsewhere (holds beyond another site's stock) are not free to
    # sell: a site-scoped Tag never lists more than the item has available over all sites.
    base = pl.when(pl.col("site").is_not_null()).then(pl.min_horizontal("site_available", "all_sites")).otherwise(pl.col("all_sites"))
    quantity = (
        pl.when(pl.col("backorderable")).then(pl.lit(backorder_quantity, WIDE))
        .otherwise(apply_reserve(base.cast(WIDE), pl.col("calculation"), pl.col("value").fill_null(0)))
        .clip(0, MAX_QUANTITY)
    )
    result = joined.with_columns(quantity=quantity.cast(pl.Int64), sku_error=sku_problem(pl.col("sku"))).collect()
    quantities = result.filter(pl.col("sku_error").is_null()).select("sku", "product_type", "quantity", "included")
    return Quantities(quantities, _quarantine(result, inventory, holds, items, attributes, sites))


def _quarantine(result: pl.DataFrame, inventory: pl.DataFrame, holds: pl.DataFrame, items: pl.DataFrame, attributes: pl.DataFrame,
                sites: pl.DataFrame) -> pl.DataFrame:
    """What a person must fix in the OM; the SKUs concerned still go out as safely as docs/design.md says."""
    codes = items.select("item_id", "item_code")
    tags = result.filter(pl.col("included") & pl.col("tag_error").is_not_null()).select(
        key=pl.col("sku"), raw_value=pl.col("tag"), reason=pl.format("{}; sent the unadjusted available quantity", pl.col("tag_error")))
    skus = result.filter(pl.col("sku_error").is_not_null()).select(
        key=pl.col("sku").fill_null(""), raw_value=pl.col("sku"), reason=pl.col("sku_error"))
    negative = inventory.filter(pl.col("on_hand") < 0).join(codes, on="item_id", how="left").join(sites.select("site_id", "code"), on="site_id", how="left").select(
        key=pl.format("{}@{}", pl.col("item_code").fill_null(pl.col("item_id").cast(pl.String)), pl.col("code").fill_null(pl.col("site_id").cast(pl.String))),
        raw_value=pl.col("on_hand").cast(pl.String),
        reason=pl.lit("negative on-hand: counted as it is (lower stock, never an oversell); correct the count"))
    orphan_holds = holds.join(codes, on="item_id", how="anti").select(
        key=pl.format("hold {}", pl.col("hold_id")), raw_value=pl.format("item_id={} qty={}", pl.col("item_id"), pl.col("qty")),
        reason=pl.lit("hold for an item that does not exist: ignored"))
    unknown_site_holds = holds.join(sites, on="site_id", how="anti").select(
        key=pl.format("hold {}", pl.col("hold_id")), raw_value=pl.format("site_id={} qty={}", pl.col("site_id"), pl.col("qty")),
        reason=pl.lit("hold at a site that does not exist: counted against all sites"))
    site_codes = sites.select("site_id", site_code="code")
    unreadable = [
        unreadable_rows(items, pl.col("item_code").fill_null(pl.format("item_id={}", pl.col("item_id"))), "the item is read as inactive, not backorderable"),
        unreadable_rows(attributes, pl.format("{} of item {}", pl.col("name"), pl.col("item_id")), "the attribute is read as missing"),
        unreadable_rows(
            inventory.join(codes, on="item_id", how="left").join(site_codes, on="site_id", how="left"),
            pl.format("{}@{}", pl.col("item_code").fill_null(pl.col("item_id").cast(pl.String)), pl.col("site_code").fill_null(pl.col("site_id").cast(pl.String))),
            "this stock row counts as 0"),
        unreadable_rows(holds, pl.format("hold {}", pl.col("hold_id")), "the item is offered at 0 while the hold cannot be read"),
        unreadable_rows(sites, pl.format("site {}", pl.col("site_id")), "the site is read as unknown"),
    ]
    return pl.concat([tags, skus, negative, orphan_holds, unknown_site_holds, *unreadable]).cast(QUARANTINE_SCHEMA).unique(maintain_order=True)
