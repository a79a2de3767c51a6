"""The inventory flow on OMs that hypothesis makes hostile (wrong types, huge numbers, duplicates of
bad rows): the run ends OK or OK_WITH_PROBLEMS, each hostile value is in ops.quarantine with its raw
value, and Amazon gets what the tested transform gives for the OM as read. Few examples: each is a run."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omsync.demo import publish_catalog
from omsync.flows.inventory import inventory
from tests.flows.test_inventory import FAST, expected_quantities
from tests.hostile.conftest import item_id, quarantined, raw_sql
from tests.hostile.test_inventory_hostile import plain_skus

STOCK = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from(["abc", 3.7, "", "9" * 30, "\x00", -0.5]))


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_inventory_on_a_hostile_om(om_url, world, data):
    skus = world.__dict__.setdefault("published", plain_skus(world, 12))
    if not world.__dict__.get("catalog"):
        publish_catalog(world.sandbox, world.om)
        world.catalog = True
    hostile = data.draw(st.lists(st.sampled_from(skus), min_size=1, max_size=4, unique=True))
    sites = world.om.read("SELECT site_id FROM site ORDER BY site_id")["site_id"].to_list()
    written = []
    for sku in hostile:
        item = item_id(world, sku)
        site = data.draw(st.sampled_from(sites))
        value = data.draw(STOCK)
        raw_sql(world, "DELETE FROM {inventory} WHERE item_id = ? AND site_id = ?", [item, site])
        raw_sql(world, "INSERT INTO {inventory} (item_id, site_id, on_hand) VALUES (?, ?, ?)", [item, site, value])
        if data.draw(st.booleans()):
            qty = data.draw(STOCK)
            raw_sql(world, "INSERT INTO {inventory_hold} (item_id, site_id, qty, reason) VALUES (?, ?, ?, 'hostile')", [item, site, qty])
            written.append(("qty", qty))
        written.append(("on_hand", value))

    run = inventory(**FAST, resources=world.resources)

    with world.warehouse.read() as con:
        outcome = con.execute("SELECT outcome FROM ops.runs WHERE flow = 'inventory' ORDER BY started DESC LIMIT 1").fetchone()[0]
    assert outcome in ("OK", "OK_WITH_PROBLEMS")
    assert run.get("verdict ACCEPTED", 0) == run["messages sent"]
    found = set(quarantined(world, "inventory")["raw_value"].drop_nulls())
    for column, value in written:
        if not isinstance(value, int):
            assert any(f"{column}=" in raw for raw in found), f"{column}={value!r} is quarantined"
    expected = expected_quantities(world)
    listings = world.listings()
    assert {s: listings[s]["quantity"] for s in expected} == expected
    assert all(0 <= q <= 99_999 for q in expected.values())
