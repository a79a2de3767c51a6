"""Prices: exact validation per currency, the fat-finger guard, and the feed message format."""

import json
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omsync.transforms.pricing import (MONEY, guard_price_changes, price_messages, select_price_changes, validate_prices)


def catalog(prices: dict[str, str | None], amazon: str = "Yes"):
    skus = list(prices)
    items = pl.DataFrame({"item_id": range(1, len(skus) + 1), "item_code": skus, "backorderable": False, "active": True})
    attributes = pl.concat([
        pl.DataFrame({"item_id": range(1, len(skus) + 1), "name": "AmazonItem", "value": amazon, "tag": None},
                     schema={"item_id": pl.Int64, "name": pl.String, "value": pl.String, "tag": pl.String}),
        pl.DataFrame({"item_id": [i + 1 for i, s in enumerate(skus) if prices[s] is not None], "name": "AmazonPrice",
                      "value": [p for p in prices.values() if p is not None], "tag": None},
                     schema={"item_id": pl.Int64, "name": pl.String, "value": pl.String, "tag": pl.String}),
    ])
    return items, attributes


def test_valid_prices_are_exact_decimals():
    result = validate_prices(*catalog({"A": "19.99", "B": " 5 ", "C": "1200.5"}), "USD")
    assert result.prices.schema["price"] == MONEY
    assert dict(result.prices.select("sku", "price").iter_rows()) == {"A": Decimal("19.99"), "B": Decimal("5"), "C": Decimal("1200.5")}
    assert result.quarantine.is_empty()


@pytest.mark.parametrize("raw, reason", [
    (None, "no AmazonPrice"), ("", "no AmazonPrice"), ("abc", "not a plain decimal"), ("1,299.00", "not a plain decimal"),
    ("1e3", "not a plain decimal"), ("-5.00", "not a plain decimal"), ("0", "above zero"), ("0.00", "above zero"),
    ("12.345", "more decimals than USD allows (2)"),
])
def test_invalid_prices_are_quarantined_and_not_sent(raw, reason):
    result = validate_prices(*catalog({"BAD": raw, "OK": "9.99"}), "USD")
    assert result.prices["sku"].to_list() == ["OK"]
    [row] = result.quarantine.to_dicts()
    assert row["key"] == "BAD" and reason in row["reason"] and row["raw_value"] == raw


def test_decimals_follow_the_currency():
    assert validate_prices(*catalog({"A": "1999.5"}), "JPY").quarantine["reason"].str.contains("JPY allows \\(0\\)").all()
    assert validate_prices(*catalog({"A": "1999"}), "JPY").quarantine.is_empty()


def test_items_not_offered_have_no_price_to_send():
    assert validate_prices(*catalog({"A": "5.00"}, amazon="No"), "USD").prices.is_empty()


def state(accepted: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"sku": list(accepted), "price_accepted": [Decimal(v) for v in accepted.values()]}, schema={"sku": pl.String, "price_accepted": MONEY})


def prices(values: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"sku": list(values), "product_type": "PRODUCT", "price": [Decimal(v) for v in values.values()]}, schema_overrides={"price": MONEY})


def test_only_changed_or_new_prices_are_selected_unless_full():
    current = prices({"SAME": "10.00", "NEW": "5.00", "CHANGED": "11.00"})
    accepted = state({"SAME": "10.00", "CHANGED": "10.00"})
    assert select_price_changes(current, accepted)["sku"].to_list() == ["CHANGED", "NEW"]
    assert select_price_changes(current, accepted, full=True).height == 3


NO_APPROVALS = pl.DataFrame(schema={"sku": pl.String, "price": MONEY})


def test_the_guard_holds_big_falls_and_rises_but_not_first_prices():
    changes = select_price_changes(prices({"DROP": "4.99", "EDGE": "5.00", "RISE": "30.01", "OK": "30.00", "FIRST": "0.01"}),
                                   state({"DROP": "10.00", "EDGE": "10.00", "RISE": "10.00", "OK": "10.00"}))
    send, held = guard_price_changes(changes, NO_APPROVALS, Decimal("0.5"), Decimal("2"))
    assert sorted(send["sku"]) == ["EDGE", "FIRST", "OK"]
    assert held.select("sku", "change_percent").rows() == [("DROP", -50.1), ("RISE", 200.1)]


def test_an_approval_releases_exactly_the_approved_price():
    changes = select_price_changes(prices({"DROP": "1.00", "OTHER": "1.00"}), state({"DROP": "10.00", "OTHER": "10.00"}))
    approved = pl.DataFrame({"sku": ["DROP", "OTHER"], "price": [Decimal("1.00"), Decimal("2.00")]}, schema_overrides={"price": MONEY})
    send, held = guard_price_changes(changes, approved, Decimal("0.5"), Decimal("2"))
    assert send["sku"].to_list() == ["DROP"] and held["sku"].to_list() == ["OTHER"]


def test_messages_replace_the_offer_with_a_two_decimal_number():
    [message] = price_messages(prices({'SKU "quoted"/1': "20"}), "ATVPDKIKX0DER", "usd").to_list()
    assert '"value_with_tax":20.00}' in message
    parsed = json.loads(message)
    assert parsed["sku"] == 'SKU "quoted"/1' and parsed["operationType"] == "PATCH" and parsed["productType"] == "PRODUCT"
    [patch] = parsed["patches"]
    assert patch["op"] == "replace" and patch["path"] == "/attributes/purchasable_offer"
    assert patch["value"] == [{"marketplace_id": "ATVPDKIKX0DER", "currency": "USD", "audience": "ALL", "our_price": [{"schedule": [{"value_with_tax": 20.0}]}]}]


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2))
def test_any_valid_price_goes_out_exactly(price):
    result = validate_prices(*catalog({"S": str(price)}), "USD")
    assert result.prices["price"].item() == price
    [message] = price_messages(result.prices, "ATVPDKIKX0DER", "USD").to_list()
    text = message.split('"value_with_tax":')[1].split("}")[0]
    assert Decimal(text) == price and len(text.split(".")[1]) == 2


@settings(max_examples=100, deadline=None)
@given(old=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000"), places=2),
       new=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2))
def test_the_guard_matches_its_definition(old, new):
    changes = select_price_changes(prices({"S": str(new)}), state({"S": str(old)}))
    send, held = guard_price_changes(changes, NO_APPROVALS, Decimal("0.5"), Decimal("2"))
    should_hold = new < old * Decimal("0.5") or new > old * 3
    assert held.height == int(should_hold) and send.height == int(new != old and not should_hold)


def test_a_price_too_large_for_the_money_type_is_quarantined_and_the_rest_go_on():
    result = validate_prices(*catalog({"HUGE": "99999999999999999999.99", "OK": "9.99"}), "USD")
    assert dict(result.prices.select("sku", "price").iter_rows()) == {"OK": Decimal("9.99")}
    [row] = result.quarantine.to_dicts()
    assert row["key"] == "HUGE" and row["raw_value"] == "99999999999999999999.99" and "too large" in row["reason"]


@pytest.mark.parametrize("sku, reason", [("", "empty SKU"), ("   ", "empty SKU"), ("S" * 41, "longer than 40")])
def test_skus_amazon_refuses_are_screened_by_the_rule_inventory_uses(sku, reason):
    from omsync.transforms.amazon_items import sku_problem

    result = validate_prices(*catalog({sku: "9.99", "S" * 40: "9.99"}), "USD")
    assert result.prices["sku"].to_list() == ["S" * 40]
    [row] = result.quarantine.to_dicts()
    assert row["raw_value"] == sku and reason in row["reason"]
    assert pl.select(sku_problem(pl.lit(sku))).item() in row["reason"]
