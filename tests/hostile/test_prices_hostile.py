"""Hostile OM prices and SKUs never stop the prices run: each is quarantined, the rest is sent (issue 16)."""

import polars as pl

from omsync.demo import publish_catalog
from omsync.flows.prices import prices
from tests.flows.test_prices import FAST, expected_prices, offered_prices, set_price
from tests.hostile.conftest import quarantined, raw_sql


def test_an_oversized_price_and_skus_amazon_refuses_are_quarantined_and_the_rest_sent(world):
    publish_catalog(world.sandbox, world.om)
    huge, empty, long = sorted(expected_prices(world))[:3]
    set_price(world, huge, "99999999999999999999.99")
    raw_sql(world, "UPDATE {item} SET item_code = ? WHERE item_code = ?", ["", empty])
    raw_sql(world, "UPDATE {item} SET item_code = ? WHERE item_code = ?", ["L" * 41, long])
    others = {s: p for s, p in expected_prices(world).items() if s not in (huge, "", "L" * 41)}

    run = prices(**FAST, resources=world.resources)

    assert run["messages sent"] == len(others) == run["verdict ACCEPTED"], "the run goes on; no refused SKU is sent"
    offered = offered_prices(world)
    assert {s: offered[s] for s in others} == others
    assert offered[huge] is None
    found = quarantined(world, "prices")
    assert "too large" in found.filter(pl.col("key") == huge)["reason"].item()
    assert "empty SKU" in found.filter(pl.col("key") == "")["reason"].item()
    assert "longer than 40" in found.filter(pl.col("key") == "L" * 41)["reason"].item()
