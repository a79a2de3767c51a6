"""Hostile OM rows (wrong types, NULLs, huge and tiny numbers, control characters, long text,
duplicates) mixed with valid ones: every hostile row is quarantined with its raw value, and every
valid SKU gets exactly what it gets alone (issue 16)."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from omsync.transforms.availability import MAX_QUANTITY, compute_quantities
from omsync.transforms.pricing import validate_prices

SITES = pl.DataFrame({"site_id": [1, 2], "code": ["CHI", "DAL"]})
INT64 = st.integers(-(2**63), 2**63 - 1)
UNREADABLE = st.sampled_from(["abc", "3.7", "xyz", "", "1e999", "\x00"])
TAGS = st.one_of(st.none(), st.sampled_from(["", "0", "5:1", "20:2", "3:3:DAL", "50:6", "101:6", "7:9", "1:1:NOPE",
                                              "99999999999999999999999999:3", "abc", "\x00:1"]), st.text(max_size=12))
SKUS = st.one_of(st.sampled_from(["", "  ", "S" * 41, "NUL\x00SKU"]), st.text(min_size=1, max_size=45))
# a stock or hold quantity: a whole number of any size, or a value of another type (typed NULL + its raw text)
QUANTITY = st.one_of(INT64.map(lambda v: (v, None)), UNREADABLE.map(lambda raw: (None, raw)))


@st.composite
def catalogs(draw):
    n = draw(st.integers(1, 8))
    skus = [f"{draw(SKUS)}#{i}" if draw(st.booleans()) else draw(SKUS) for i in range(n)]
    items = pl.DataFrame({"item_id": range(1, n + 1), "item_code": skus, "backorderable": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                          "active": True})
    attributes = pl.DataFrame({"item_id": range(1, n + 1), "name": "AmazonItem", "value": "Yes", "tag": [draw(TAGS) for _ in range(n)]},
                              schema_overrides={"tag": pl.String})
    stock = [(item, site, *draw(QUANTITY)) for item in range(1, n + 1) for site in (1, 2) if draw(st.booleans())]
    holds = [(h, draw(st.integers(1, n)), draw(st.sampled_from([1, 2, 3])), *draw(QUANTITY)) for h in range(draw(st.integers(0, 6)))]
    inventory = pl.DataFrame(stock, schema={"item_id": pl.Int64, "site_id": pl.Int64, "on_hand": pl.Int64, "unreadable": pl.String}, orient="row")
    held = pl.DataFrame(holds, schema={"hold_id": pl.Int64, "item_id": pl.Int64, "site_id": pl.Int64, "qty": pl.Int64, "unreadable": pl.String}, orient="row")
    return items, attributes, inventory.with_columns(pl.format("on_hand={}", "unreadable").alias("unreadable")), \
        held.with_columns(pl.format("qty={}", "unreadable").alias("unreadable"))


def alone(item_id, items, attributes, inventory, holds):
    one = pl.col("item_id") == item_id
    return compute_quantities(items.filter(one), attributes.filter(one), inventory.filter(one), holds.filter(one), SITES)


@settings(max_examples=100, deadline=None)
@given(catalogs())
def test_inventory_quarantines_every_hostile_row_and_each_sku_gets_what_it_gets_alone(catalog):
    items, attributes, inventory, holds = catalog
    result = compute_quantities(items, attributes, inventory, holds, SITES)
    assert result.quantities["quantity"].is_between(0, MAX_QUANTITY).all()
    quarantined = set(result.quarantine["raw_value"].drop_nulls())
    assert set(inventory["unreadable"].drop_nulls()) | set(holds["unreadable"].drop_nulls()) <= quarantined
    sent = {row["sku"]: row["quantity"] for row in result.quantities.iter_rows(named=True)}
    for item_id, sku in items.select("item_id", "item_code").iter_rows():
        by_itself = alone(item_id, items, attributes, inventory, holds).quantities
        assert by_itself["quantity"].to_list() == ([sent[sku]] if sku in sent else []) or items["item_code"].is_duplicated().any()
        unique_sku = items.filter(pl.col("item_code") == sku).height == 1  # `sent` is by SKU: a shared one is another item's
        if holds.filter((pl.col("item_id") == item_id) & pl.col("qty").is_null()).height and sku in sent and unique_sku \
                and not items.filter(pl.col("item_id") == item_id)["backorderable"].item():
            assert sent[sku] == 0, "a hold that cannot be read blocks the item"


PRICES = st.one_of(st.none(), st.sampled_from(["19.99", "5", "0", "-1", "abc", "1e3", "12.345", "99999999999999999999.99",
                                               "\x00", " 7.50 ", "0.01"]), st.decimals(allow_nan=False, allow_infinity=False).map(str))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(SKUS, PRICES), min_size=1, max_size=10))
def test_prices_quarantine_every_bad_price_or_sku_and_send_every_good_one_as_alone(rows):
    n = len(rows)
    items = pl.DataFrame({"item_id": range(1, n + 1), "item_code": [s for s, _ in rows], "backorderable": False, "active": True})
    attributes = pl.concat([
        pl.DataFrame({"item_id": range(1, n + 1), "name": "AmazonItem", "value": "Yes", "tag": None}, schema_overrides={"tag": pl.String}),
        pl.DataFrame({"item_id": range(1, n + 1), "name": "AmazonPrice", "value": [p for _, p in rows], "tag": None},
                     schema={"item_id": pl.Int64, "name": pl.String, "value": pl.String, "tag": pl.String}),
    ])
    result = validate_prices(items, attributes, "USD")
    assert result.prices.height + result.quarantine.height == n, "every offered SKU is either sent or quarantined"
    for i in range(1, n + 1):
        one = pl.col("item_id") == i
        by_itself = validate_prices(items.filter(one), attributes.filter(one), "USD")
        if by_itself.prices.height:
            assert by_itself.prices.row(0) in result.prices.rows()
        else:
            assert by_itself.quarantine.row(0) in result.quarantine.rows()
