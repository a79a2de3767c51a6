"""Deterministic, realistic OM demo data: items, Amazon attributes in every Tag form, stock, holds,
customers and Terms, generated as Polars frames (no per-row Python) and loaded set-based."""

from __future__ import annotations

import time
from dataclasses import dataclass

import polars as pl

from omsync.connectors.om import OmDatabase

SITE_CODES = ["CHI", "NJ1", "DAL", "LAX", "ATL", "SEA", "MIA", "DEN", "BOS", "PHX"]
SITE_NAMES = ["Chicago DC", "New Jersey DC", "Dallas DC", "Los Angeles DC", "Atlanta DC",
              "Seattle DC", "Miami DC", "Denver DC", "Boston DC", "Phoenix DC"]
ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Heavy-Duty", "Mini", "Pro", "Smart", "Travel", "Vintage"]
NOUNS = ["Backpack", "Blender", "Desk Lamp", "Duffel Bag", "Kettle", "Mug", "Pillow", "Running Shoe",
         "Suitcase", "Throw Blanket", "Toaster", "Water Bottle", "Yoga Mat", "Puzzle", "Headphones"]
COLOURS = ["Black", "Blue", "Charcoal", "Green", "Grey", "Navy", "Red", "White"]
PRODUCT_TYPES = ["LUGGAGE", "SHOES", "HOME_BED_AND_BATH", "TOYS_AND_GAMES", "KITCHEN"]
# Valid reserve Tags of every calculation (docs/design.md), most items having none; "{site}" is replaced
# by a real site code so that site-scoped Tags exist whatever --sites is.
VALID_TAGS = ["", "", "", "", "", "", "", "", "0", "0:0", "5:1", "10:1", "20:2", "15.5:2", "2:3", "5:3",
              "50:6", "80:6", "3:1:{site}", "25:2:{site}", "1:3:{site}", "75:6:{site}"]
INVALID_TAGS = ["abc:2", "5:4", "5:2:NOSITE", "150:6", "-3:1", "5:5", "1:2:3:4", "12"]
INVALID_PRICES = ["", "abc", "0", "-5.00", "12.345", "1,299.00"]
FIRST_NAMES = ["Ana", "Ben", "Chloé", "David", "Emma", "Farid", "Grace", "Hiro", "Isabel", "Jonas",
               "Kara", "Liam", "María", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tomás"]
LAST_NAMES = ["Adams", "Brown", "Chen", "Díaz", "Evans", "Fischer", "García", "Hughes", "Ito", "Johnson",
              "Kowalski", "López", "Müller", "Nguyen", "O'Brien", "Patel", "Rossi", "Smith", "Taylor", "Weber"]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Lakeview Rd", "Sunset Blvd"]
CITIES = [("Chicago", "IL", "606"), ("Newark", "NJ", "071"), ("Dallas", "TX", "752"), ("Los Angeles", "CA", "900"),
          ("Atlanta", "GA", "303"), ("Seattle", "WA", "981"), ("Miami", "FL", "331"), ("Denver", "CO", "802"),
          ("Boston", "MA", "021"), ("Phoenix", "AZ", "850"), ("Portland", "OR", "972"), ("Austin", "TX", "787")]
TERMS = pl.DataFrame(
    {
        "terms_code": ["NET14", "NET30", "NET60"],
        "description": ["Net 14 days", "Net 30 days", "Net 60 days"],
        "net_days": [14, 30, 60],
        "tolerance": ["0.05", "0.10", "1.00"],
    }
).with_columns(pl.col("tolerance").cast(pl.Decimal(18, 4)))


def _pick(words: list[str], index: pl.Expr) -> pl.Expr:
    """The word at index (mod the list's length), vectorised."""
    return pl.lit(pl.Series(words)).gather(index % len(words))


def _ascii(name: pl.Expr) -> pl.Expr:
    """A name as the lower-case ASCII an e-mail address would use."""
    return name.str.to_lowercase().str.replace_many(["á", "é", "í", "ó", "ü", "'", " "], ["a", "e", "i", "o", "u", "", ""])


def _rand(seed: int, salt: int) -> pl.Expr:
    """A deterministic pseudo-random UInt64 per row, from the row number, the seed and a salt."""
    return pl.int_range(pl.len(), dtype=pl.UInt64).hash(seed=seed * 1_000_003 + salt)


@dataclass(frozen=True)
class DemoData:
    sites: pl.DataFrame
    items: pl.DataFrame
    attributes: pl.DataFrame
    inventory: pl.DataFrame
    holds: pl.DataFrame
    customers: pl.DataFrame
    terms: pl.DataFrame


def generate(items: int, sites: int, customers: int, seed: int) -> DemoData:
    """All demo frames, keyed by natural keys (item_code, site code, customer_no); same input, same output."""
    if not 1 <= sites <= 99:
        raise ValueError("--sites must be between 1 and 99")
    site_frame = pl.DataFrame({"i": range(sites)}).select(
        code=pl.when(pl.col("i") < len(SITE_CODES)).then(_pick(SITE_CODES, pl.col("i"))).otherwise(pl.format("S{}", pl.col("i") + 1)),
        name=pl.when(pl.col("i") < len(SITE_NAMES)).then(_pick(SITE_NAMES, pl.col("i"))).otherwise(pl.format("Site {}", pl.col("i") + 1)),
    )
    codes = site_frame["code"].to_list()

    base = pl.DataFrame({"n": pl.int_range(items, dtype=pl.Int64, eager=True) + 1})
    item_frame = base.with_columns(r1=_rand(seed, 1), r2=_rand(seed, 2), r3=_rand(seed, 3)).select(
        item_code=pl.format("SKU-{}", pl.col("n").cast(pl.String).str.zfill(7)),
        description=pl.concat_str(
            [_pick(ADJECTIVES, pl.col("r1")), _pick(NOUNS, pl.col("r2")), _pick(COLOURS, pl.col("r3"))], separator=" "
        ),
        backorderable=(pl.col("r1") % 100) < 3,
        active=(pl.col("r2") % 100) >= 2,
        n=pl.col("n"),
    )

    r = item_frame.select("item_code", "n", a=_rand(seed, 4), t=_rand(seed, 5), p=_rand(seed, 6), s=_rand(seed, 7))
    share = pl.col("a") % 100
    amazon_value = (
        pl.when(share < 4).then(None)  # never offered on Amazon: no attribute at all
        .when(share < 8).then(pl.lit("No"))
        .when(share < 23).then(_pick(PRODUCT_TYPES, pl.col("a") // 100))
        .otherwise(pl.lit("Yes"))
    )
    tag = (
        pl.when(pl.col("n") % 199 == 0).then(_pick(INVALID_TAGS, pl.col("n") // 199 - 1))
        .otherwise(_pick(VALID_TAGS, pl.col("t")).str.replace("{site}", _pick(codes, pl.col("s")), literal=True))
    )
    price = (
        pl.when(pl.col("n") % 211 == 0).then(_pick(INVALID_PRICES, pl.col("n") // 211 - 1))
        .otherwise(pl.format("{}.{}", pl.col("p") % 300 + 4, _pick(["99", "95", "49", "00"], pl.col("p") // 300)))
    )
    amazon_item = r.select("item_code", name=pl.lit("AmazonItem"), value=amazon_value, tag=pl.when(tag != "").then(tag))
    amazon_price = r.filter(share >= 4).select("item_code", name=pl.lit("AmazonPrice"), value=price, tag=pl.lit(None, pl.String))
    attributes = pl.concat([amazon_item.filter(pl.col("value").is_not_null()), amazon_price])

    inventory = (
        item_frame.select("item_code", "n")
        .join(site_frame.select(site_code="code"), how="cross")
        .with_columns(q=_rand(seed, 8))
        .select(
            "item_code",
            "site_code",
            on_hand=pl.when((pl.col("n") * 7 + pl.col("q") % 11) % 5003 == 0).then(-2)  # a miscount, for quarantine
            .when(pl.col("q") % 10 < 3).then(0)
            .otherwise((pl.col("q") // 10 % 60).cast(pl.Int64)),
        )
    )

    held = item_frame.select("item_code", "n", h=_rand(seed, 9)).filter(pl.col("h") % 100 < 8)
    holds = pl.concat(
        [
            held.select(
                "item_code",
                site_code=_pick(codes, pl.col("h") // 100),
                qty=(pl.col("h") // 1000 % 4 + 1).cast(pl.Int64),
                reason=_pick(["customer order", "quality inspection", "transfer"], pl.col("h") // 7),
            ),
            # Holds left behind for items the OM no longer has: inventory must quarantine them.
            pl.DataFrame({"item_code": ["SKU-RETIRED-1", "SKU-RETIRED-2"], "site_code": [codes[0]] * 2,
                          "qty": [3, 1], "reason": ["customer order", "transfer"]}),
        ]
    )

    people = pl.DataFrame({"n": pl.int_range(customers, dtype=pl.Int64, eager=True) + 1}).with_columns(
        f=_rand(seed, 10), l=_rand(seed, 11), c=_rand(seed, 12)
    )
    first, last = _pick(FIRST_NAMES, pl.col("f")), _pick(LAST_NAMES, pl.col("l"))
    city = pl.col("c") % len(CITIES)
    customer_frame = people.select(
        customer_no=pl.format("C{}", pl.col("n").cast(pl.String).str.zfill(7)),
        name=pl.concat_str([first, last], separator=" "),
        email=pl.format("{}.{}{}@example.com", _ascii(first), _ascii(last), pl.col("n")),
        phone=pl.format("+1-555-{}", (pl.col("f") % 10_000_000).cast(pl.String).str.zfill(7)),
        address1=pl.format("{} {}", pl.col("l") % 9000 + 100, _pick(STREETS, pl.col("c") // 100)),
        address2=pl.when(pl.col("f") % 7 == 0).then(pl.format("Apt {}", pl.col("f") % 40 + 1)),
        city=_pick([c[0] for c in CITIES], city),
        region=_pick([c[1] for c in CITIES], city),
        postal_code=pl.concat_str([_pick([c[2] for c in CITIES], city), (pl.col("c") // 7 % 100).cast(pl.String).str.zfill(2)]),
        country=pl.lit("US"),
        source=pl.lit("OM"),
        created_at=pl.datetime(2020, 1, 1, time_zone="UTC") + pl.duration(hours=(pl.col("c") % 50_000).cast(pl.Int64)),
    )
    return DemoData(
        sites=site_frame,
        items=item_frame.drop("n"),
        attributes=attributes,
        inventory=inventory,
        holds=holds,
        customers=customer_frame,
        terms=TERMS,
    )


def load(om: OmDatabase, data: DemoData) -> dict[str, float | int]:
    """Insert what is not there yet, resolving natural keys to the OM's ids; one transaction."""
    started = time.perf_counter()
    inserted: dict[str, float | int] = {}
    with om.session() as con:
        con.begin()
        inserted["site"] = om.insert_missing(con, "site", data.sites, ("code",))
        inserted["terms"] = om.insert_missing(con, "terms", data.terms, ("terms_code",))
        inserted["item"] = om.insert_missing(con, "item", data.items, ("item_code",))
        inserted["customer"] = om.insert_missing(con, "customer", data.customers, ("customer_no",))
        ids = con.execute("SELECT item_code, item_id FROM item").pl()
        sites = con.execute("SELECT code AS site_code, site_id FROM site").pl()
        attributes = data.attributes.join(ids, on="item_code").drop("item_code")
        inventory = data.inventory.join(ids, on="item_code").join(sites, on="site_code").drop("item_code", "site_code")
        holds = (
            data.holds.join(ids, on="item_code", how="left")
            .join(sites, on="site_code")
            .with_columns(pl.col("item_id").fill_null(999_999_000 + pl.int_range(pl.len())))
            .drop("item_code", "site_code")
        )
        inserted["item_attribute"] = om.insert_missing(con, "item_attribute", attributes, ("item_id", "name"))
        inserted["inventory"] = om.insert_missing(con, "inventory", inventory, ("item_id", "site_id"))
        inserted["inventory_hold"] = om.insert_missing(con, "inventory_hold", holds, ("item_id", "site_id", "reason"))
        con.commit()
    inserted["seconds"] = round(time.perf_counter() - started, 2)
    return inserted
