"""Available-to-sell: every calculation, site-scoped Tags, rounding, clamping, every invalid form."""

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omsync.transforms.availability import MAX_QUANTITY, compute_quantities

SITES = pl.DataFrame({"site_id": [1, 2], "code": ["CHI", "DAL"]})


def run(tag=None, stock=(7, 3), held=(0, 0), backorderable=False, active=True, value="Yes", sku="SKU-1"):
    items = pl.DataFrame({"item_id": [1], "item_code": [sku], "backorderable": [backorderable], "active": [active]})
    attributes = pl.DataFrame({"item_id": [1], "name": ["AmazonItem"], "value": [value], "tag": [tag]}, schema_overrides={"tag": pl.String, "value": pl.String})
    inventory = pl.DataFrame({"item_id": [1, 1], "site_id": [1, 2], "on_hand": list(stock)})
    holds = pl.DataFrame({"hold_id": [1, 2], "item_id": [1, 1], "site_id": [1, 2], "qty": list(held)})
    return compute_quantities(items, attributes, inventory, holds, SITES)


def quantity(**kw) -> int:
    return run(**kw).quantities["quantity"].item()


@pytest.mark.parametrize(
    "tag, expected",
    [
        (None, 10), ("", 10), ("0", 10), ("5:0", 10),  # None: all available
        ("4:1", 4), ("40:1", 10), ("2.9:1", 2),          # Fixed: at most Value
        ("20:2", 8), ("15:2", 8), ("100:2", 0),            # Adjusted Negative Percentage, rounded down
        ("3:3", 7), ("2.5:3", 7), ("30:3", 0),             # Adjusted Negative Fixed, never below 0
        ("50:6", 5), ("33:6", 3), ("100:6", 10), ("0:6", 0),  # Percent
        (" 20 : 2 ", 8),
    ],
)
def test_each_calculation_over_all_sites(tag, expected):
    assert quantity(tag=tag) == expected


def test_percentages_are_exact_where_floats_are_not():
    # 100 × (1 − 10/100) is 89.99999999999999 in floats; the answer is 90
    assert quantity(tag="10:2", stock=(100, 0)) == 90
    assert quantity(tag="70:6", stock=(10, 0)) == 7


@pytest.mark.parametrize("tag, expected", [("5:1:CHI", 5), ("50:2:DAL", 1), ("1:3:DAL", 2), ("100:6:CHI", 7)])
def test_site_scoped_tags_use_that_site_only(tag, expected):
    assert quantity(tag=tag) == expected


def test_holds_are_taken_off_per_site_and_in_total():
    assert quantity(held=(2, 1)) == 7
    assert quantity(tag="100:6:CHI", held=(9, 0)) == 0
    assert quantity(held=(20, 0)) == 0


def test_a_site_scoped_tag_never_lists_more_than_all_sites_have():
    # DAL holds one unit, but CHI has already promised one it does not have: nothing is free to sell
    assert quantity(tag="0:0:DAL", stock=(0, 1), held=(1, 0)) == 0
    assert quantity(tag="5:1:DAL", stock=(-3, 6), held=(0, 0)) == 3


def test_backorderable_items_are_1000_whatever_the_stock_or_tag():
    assert quantity(backorderable=True, stock=(0, 0)) == 1000
    assert quantity(backorderable=True, tag="1:1") == 1000


def test_results_are_clamped_to_99999():
    assert quantity(stock=(80_000, 70_000)) == MAX_QUANTITY


@pytest.mark.parametrize("tag, reason", [
    ("abc:2", "not Value:Calculation_ID"), ("5:4", "unknown Calculation_ID 4"), ("5:5", "unknown Calculation_ID 5"),
    ("5:2:NOSITE", "unknown site code NOSITE"), ("150:6", "at most 100"), ("-3:1", "non-negative"),
    ("1:2:3:4", "not Value"), ("12", "not Value"), ("5:", "not Value"),
])
def test_a_bad_tag_sends_the_unadjusted_quantity_and_is_quarantined(tag, reason):
    result = run(tag=tag)
    assert result.quantities["quantity"].item() == 10
    [row] = result.quarantine.to_dicts()
    assert row["key"] == "SKU-1" and row["raw_value"] == tag and reason in row["reason"]


def test_product_type_and_inclusion():
    assert run(value="Yes").quantities.row(0, named=True) | {} == {"sku": "SKU-1", "product_type": "PRODUCT", "quantity": 10, "included": True}
    assert run(value="LUGGAGE").quantities["product_type"].item() == "LUGGAGE"
    assert not run(value="No").quantities["included"].item()
    assert not run(active=False).quantities["included"].item()


def test_items_without_the_attribute_are_not_included():
    items = pl.DataFrame({"item_id": [1], "item_code": ["A"], "backorderable": [False], "active": [True]})
    empty_attributes = pl.DataFrame(schema={"item_id": pl.Int64, "name": pl.String, "value": pl.String, "tag": pl.String})
    empty_stock = pl.DataFrame(schema={"item_id": pl.Int64, "site_id": pl.Int64, "on_hand": pl.Int64})
    empty_holds = pl.DataFrame(schema={"hold_id": pl.Int64, "item_id": pl.Int64, "site_id": pl.Int64, "qty": pl.Int64})
    result = compute_quantities(items, empty_attributes, empty_stock, empty_holds, SITES)
    assert result.quantities.to_dicts() == [{"sku": "A", "product_type": "PRODUCT", "quantity": 0, "included": False}]


def test_other_bad_input_is_quarantined_and_the_rest_flows():
    items = pl.DataFrame({"item_id": [1, 2], "item_code": ["OK", "X" * 41], "backorderable": [False, False], "active": [True, True]})
    attributes = pl.DataFrame({"item_id": [1, 2], "name": ["AmazonItem"] * 2, "value": ["Yes"] * 2, "tag": [None, None]}, schema_overrides={"tag": pl.String})
    inventory = pl.DataFrame({"item_id": [1, 1], "site_id": [1, 2], "on_hand": [5, -2]})
    holds = pl.DataFrame({"hold_id": [7, 8, 9], "item_id": [1, 99, 1], "site_id": [1, 1, 42], "qty": [1, 3, 1]})
    result = compute_quantities(items, attributes, inventory, holds, SITES)
    assert result.quantities.to_dicts() == [{"sku": "OK", "product_type": "PRODUCT", "quantity": 1, "included": True}]
    reasons = {r["key"]: r["reason"] for r in result.quarantine.to_dicts()}
    assert "longer than 40" in reasons["X" * 41]
    assert "negative on-hand" in reasons["OK@DAL"]
    assert "does not exist" in reasons["hold 8"] and "site that does not exist" in reasons["hold 9"]


tags = st.one_of(
    st.none(),
    st.builds(lambda v, c: f"{v}:{c}", st.decimals(0, 200, places=2), st.sampled_from([0, 1, 2, 3, 6, 4])),
    st.builds(lambda v, c, s: f"{v}:{c}:{s}", st.integers(0, 120), st.sampled_from([1, 2, 3, 6]), st.sampled_from(["CHI", "DAL", "XXX"])),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(tag=tags, on_hand=st.tuples(st.integers(-5, 200_000), st.integers(-5, 200_000)), held=st.tuples(st.integers(0, 50), st.integers(0, 50)), backorderable=st.booleans())
def test_quantity_is_bounded_and_never_above_the_stock_unless_backorderable(tag, on_hand, held, backorderable):
    result = run(tag=tag, stock=on_hand, held=held, backorderable=backorderable)
    q = result.quantities["quantity"].item()
    assert 0 <= q <= MAX_QUANTITY
    if not backorderable:
        all_sites = max(0, sum(on_hand) - sum(held))
        assert q <= all_sites
        site = tag.split(":")[2] if tag and tag.count(":") == 2 and result.quarantine.is_empty() else None
        if site:
            i = ["CHI", "DAL"].index(site)
            assert q <= max(0, on_hand[i] - held[i])


def test_stock_beyond_64_bits_is_capped_not_wrapped():
    # 2^62 at each of three sites is 2^63.6: a 64-bit sum wraps to a negative number and sends 0
    sites = pl.DataFrame({"site_id": [1, 2, 3], "code": ["A", "B", "C"]})
    items = pl.DataFrame({"item_id": [1], "item_code": ["SKU-1"], "backorderable": [False], "active": [True]})
    attributes = pl.DataFrame({"item_id": [1], "name": ["AmazonItem"], "value": ["Yes"], "tag": ["50:6"]})
    inventory = pl.DataFrame({"item_id": [1, 1, 1], "site_id": [1, 2, 3], "on_hand": [2**62] * 3})
    holds = pl.DataFrame(schema={"hold_id": pl.Int64, "item_id": pl.Int64, "site_id": pl.Int64, "qty": pl.Int64})
    assert compute_quantities(items, attributes, inventory, holds, sites).quantities["quantity"].item() == MAX_QUANTITY


def test_a_tag_value_too_large_for_the_money_type_is_quarantined_and_the_item_sent_unadjusted():
    result = run(tag="99999999999999999999999999:3")
    assert result.quantities["quantity"].item() == 10
    [row] = result.quarantine.to_dicts()
    assert row["raw_value"] == "99999999999999999999999999:3" and "too large" in row["reason"] and "unadjusted" in row["reason"]


def test_an_unreadable_stock_row_counts_as_zero_and_an_unreadable_hold_blocks_the_item():
    items = pl.DataFrame({"item_id": [1, 2], "item_code": ["S1", "S2"], "backorderable": [False, False], "active": [True, True]})
    attributes = pl.DataFrame({"item_id": [1, 2], "name": ["AmazonItem"] * 2, "value": ["Yes"] * 2, "tag": [None, None]},
                              schema_overrides={"tag": pl.String})
    inventory = pl.DataFrame({"item_id": [1, 1, 2], "site_id": [1, 2, 1], "on_hand": [None, 5, 9],
                              "unreadable": ["on_hand=abc", None, None]}, schema_overrides={"on_hand": pl.Int64})
    holds = pl.DataFrame({"hold_id": [7], "item_id": [2], "site_id": [1], "qty": [None], "unreadable": ["qty=xyz"]},
                         schema_overrides={"qty": pl.Int64, "unreadable": pl.String})
    result = compute_quantities(items, attributes, inventory, holds, SITES)
    assert dict(result.quantities.select("sku", "quantity").iter_rows()) == {"S1": 5, "S2": 0}
    found = {r["raw_value"]: r for r in result.quarantine.to_dicts()}
    assert found["on_hand=abc"]["key"] == "S1@CHI" and "counts as 0" in found["on_hand=abc"]["reason"]
    assert found["qty=xyz"]["key"] == "hold 7" and "offered at 0" in found["qty=xyz"]["reason"]
