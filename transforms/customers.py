"""Which OM customer placed each Amazon order (docs/design.md): the same e-mail (Amazon's relay address is
stable per buyer), else the same normalized name, postal code, country and first address line, else a
new customer — one per new buyer per batch; the oldest customer wins ties; orders without any buyer
identity go to one default customer per marketplace. Deterministic: any order of the batch, same result."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

RULE_EMAIL, RULE_ADDRESS, RULE_NEW, RULE_DEFAULT = "EMAIL", "NAME_ADDRESS", "NEW", "DEFAULT"
CUSTOMER_COLUMNS = ["customer_id", "customer_no", "name", "email", "address1", "postal_code", "country", "created_at"]


@dataclass(frozen=True)
class Matches:
    orders: pl.DataFrame  # order_id, customer_id (null for new ones), customer_no, match_rule
    new_customers: pl.DataFrame  # customer_no, name, email, phone, address1, address2, city, region, postal_code, country


def normalize(text: pl.Expr) -> pl.Expr:
    """Case-folded, punctuation dropped, runs of spaces collapsed."""
    return text.str.to_lowercase().str.replace_all(r"[^\w\s]", "").str.replace_all(r"\s+", " ").str.strip_chars()


def _address_key(name: str, address1: str, postal: str, country: str) -> pl.Expr:
    parts = [normalize(pl.col(name)), normalize(pl.col(address1)), pl.col(postal).str.replace_all(r"\s", "").str.to_uppercase(),
             pl.col(country).str.to_uppercase()]
    return pl.when(pl.all_horizontal(p.is_not_null() & (p != "") for p in parts)).then(pl.concat_str(parts, separator="|"))


def buyer_keys(orders: pl.DataFrame) -> pl.DataFrame:
    """The identity of each order's buyer: e-mail key, address key, and the key a new customer gets."""
    return orders.with_columns(
        email_key=pl.col("buyer_email").str.strip_chars().str.to_lowercase().replace("", None),
        address_key=_address_key("buyer_name", "ship_address1", "ship_postal_code", "ship_country"),
    ).with_columns(buyer_key=pl.coalesce(pl.format("e:{}", "email_key"), pl.format("a:{}", "address_key")))


def _oldest(customers: pl.DataFrame, key: str) -> pl.DataFrame:
    """One customer per key: the oldest (then the lowest id)."""
    return customers.filter(pl.col(key).is_not_null()).sort("created_at", "customer_id").unique(key, keep="first", maintain_order=True)


def match_customers(orders: pl.DataFrame, customers: pl.DataFrame, marketplace_id: str) -> Matches:
    """orders: order_id, created, buyer_name, buyer_email, ship_* fields. customers: the OM's candidates."""
    keyed = buyer_keys(orders)
    known = customers.with_columns(
        email_key=pl.col("email").str.strip_chars().str.to_lowercase().replace("", None),
        address_key=_address_key("name", "address1", "postal_code", "country"),
    )
    by_email = _oldest(known, "email_key").select("email_key", email_customer="customer_id", email_no="customer_no")
    by_address = _oldest(known, "address_key").select("address_key", address_customer="customer_id", address_no="customer_no")
    matched = keyed.join(by_email, on="email_key", how="left").join(by_address, on="address_key", how="left")
    new_no = pl.concat_str([pl.lit("AMZ-"), pl.col("buyer_key").hash(seed=0).cast(pl.String).str.zfill(20).str.slice(0, 16)])
    default_no = pl.lit(f"AMAZON-{marketplace_id}")
    result = matched.select(
        "order_id",
        customer_id=pl.coalesce("email_customer", "address_customer"),
        customer_no=pl.when(pl.col("email_customer").is_not_null()).then("email_no")
        .when(pl.col("address_customer").is_not_null()).then("address_no")
        .when(pl.col("buyer_key").is_not_null()).then(new_no)
        .otherwise(default_no),
        match_rule=pl.when(pl.col("email_customer").is_not_null()).then(pl.lit(RULE_EMAIL))
        .when(pl.col("address_customer").is_not_null()).then(pl.lit(RULE_ADDRESS))
        .when(pl.col("buyer_key").is_not_null()).then(pl.lit(RULE_NEW))
        .otherwise(pl.lit(RULE_DEFAULT)),
    )
    first_order = keyed.join(result, on="order_id").filter(pl.col("match_rule") == RULE_NEW).sort("created", "order_id")
    new_customers = pl.concat([
        first_order.unique("customer_no", keep="first", maintain_order=True).select(
            "customer_no", name="buyer_name", email="buyer_email", phone="ship_phone", address1="ship_address1",
            address2="ship_address2", city="ship_city", region="ship_region", postal_code="ship_postal_code", country="ship_country"),
        result.filter(pl.col("match_rule") == RULE_DEFAULT).head(1).select(
            "customer_no", name=pl.lit(f"Amazon customer ({marketplace_id})"), email=pl.lit(None, pl.String), phone=pl.lit(None, pl.String),
            address1=pl.lit(None, pl.String), address2=pl.lit(None, pl.String), city=pl.lit(None, pl.String),
            region=pl.lit(None, pl.String), postal_code=pl.lit(None, pl.String), country=pl.lit(None, pl.String)),
    ], how="vertical_relaxed").sort("customer_no")
    return Matches(result.sort("order_id"), new_customers)
