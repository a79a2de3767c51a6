"""The demo OM data: deterministic, realistic, every Tag form of docs/design.md, loaded without duplicates."""

import polars as pl
import pytest

from omsync.connectors.om import OmDatabase
from omsync.sandbox import om_demo_data


@pytest.fixture(scope="module")
def data():
    return om_demo_data.generate(items=5000, sites=4, customers=300, seed=11)


def test_same_seed_same_data_and_another_seed_differs(data):
    again = om_demo_data.generate(items=5000, sites=4, customers=300, seed=11)
    other = om_demo_data.generate(items=5000, sites=4, customers=300, seed=12)
    assert again.attributes.equals(data.attributes) and again.inventory.equals(data.inventory)
    assert not other.inventory.equals(data.inventory)


def test_every_reserve_tag_form_is_present(data):
    tags = data.attributes.filter(pl.col("name") == "AmazonItem")["tag"].drop_nulls()
    ids = tags.str.split(":").list.get(1, null_on_oob=True)
    assert {"0", "1", "2", "3", "6"} <= set(ids.drop_nulls().to_list())
    assert tags.str.count_matches(":").eq(2).sum() > 0, "site-scoped tags"
    scoped_sites = set(tags.filter(tags.str.count_matches(":") == 2).str.split(":").list.get(2).to_list())
    assert scoped_sites - {"NOSITE"} <= set(data.sites["code"].to_list())
    assert {"abc:2", "5:4", "5:2:NOSITE"} <= set(tags.to_list())


def test_items_cover_the_cases_the_flows_must_handle(data):
    values = data.attributes.filter(pl.col("name") == "AmazonItem")["value"]
    assert {"Yes", "No"} <= set(values.to_list()) and values.is_in(om_demo_data.PRODUCT_TYPES).any()
    assert data.items["backorderable"].any() and not data.items["active"].all()
    with_attribute = data.attributes.filter(pl.col("name") == "AmazonItem")["item_code"]
    assert data.items.height > with_attribute.n_unique(), "some items were never offered on Amazon"
    assert data.inventory["on_hand"].min() < 0, "a miscount to quarantine"
    assert (~data.holds["item_code"].is_in(data.items["item_code"])).any(), "a hold for an unknown item"
    prices = data.attributes.filter(pl.col("name") == "AmazonPrice")["value"]
    assert prices.str.contains(r"^\d+\.\d{2}$").mean() > 0.99
    assert set(om_demo_data.INVALID_PRICES) & set(prices.to_list())
    assert data.customers["email"].n_unique() == data.customers.height
    assert data.customers["email"].str.contains(r"^[a-z0-9.]+@example\.com$").all()


def test_loading_twice_adds_nothing_the_second_time(om_url, data):
    om = OmDatabase(om_url)
    om.init_schema()
    first = om_demo_data.load(om, data)
    assert first["item"] == 5000 and first["inventory"] == 5000 * 4
    assert first["inventory_hold"] == data.holds.height
    second = om_demo_data.load(om, data)
    assert {k: v for k, v in second.items() if k != "seconds"} == {k: 0 for k in first if k != "seconds"}
    counts = om.counts()
    assert counts["item_attribute"] == data.attributes.height
    assert counts["customer"] == 300
    held_unknown = om.read("SELECT count(*) AS n FROM inventory_hold h ANTI JOIN item i USING (item_id)")["n"][0]
    assert held_unknown == 2
