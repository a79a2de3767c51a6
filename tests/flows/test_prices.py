"""The prices flow, run for real: OM (SQLite and PostgreSQL) → Prefect → sandbox offers."""

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from omsync.flows.prices import prices
from omsync.demo import publish_catalog
from omsync.transforms.pricing import validate_prices

FAST = {"feed_wait_seconds": 60.0}


def expected_prices(world) -> dict[str, Decimal]:
    items = world.om.read("SELECT item_id, item_code, backorderable, active FROM item")
    attributes = world.om.read("SELECT item_id, name, value, tag FROM item_attribute")
    return dict(validate_prices(items, attributes, "USD").prices.select("sku", "price").iter_rows())


def offered_prices(world) -> dict[str, Decimal | None]:
    return {sku: None if l["price"] is None else Decimal(l["price"]) for sku, l in world.listings().items()}


def set_price(world, sku: str, price: str) -> None:
    world.om_execute(lambda t: f"UPDATE {t('item_attribute')} SET value = ? WHERE name = 'AmazonPrice' "
                                f"AND item_id = (SELECT item_id FROM {t('item')} WHERE item_code = ?)", [price, sku])


def test_offers_get_the_om_prices_invalid_ones_wait_and_a_rerun_sends_nothing(world):
    publish_catalog(world.sandbox, world.om)
    first = prices(resources=world.resources, **FAST)
    expected = expected_prices(world)
    offered = offered_prices(world)
    assert {s: offered[s] for s in expected} == expected
    assert first["messages sent"] == len(expected) == first["verdict ACCEPTED"] and first["prices invalid"] > 0
    with world.warehouse.read() as con:
        invalid = con.execute("SELECT count(*) FROM ops.quarantine WHERE flow = 'prices' AND resolved_at IS NULL").fetchone()[0]
    assert invalid == first["prices invalid"]
    never_sent = set(offered) - set(expected)
    assert all(offered[s] is None for s in never_sent)
    again = prices(resources=world.resources, **FAST)
    assert again["messages sent"] == 0 and again["held for approval"] == 0


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_fat_finger_drop_waits_for_approval(world):
    publish_catalog(world.sandbox, world.om)
    prices(resources=world.resources, **FAST)
    sku, price = sorted(expected_prices(world).items())[5]
    drop = (price / 10).quantize(Decimal("0.01"))
    set_price(world, sku, str(drop))
    held = prices(resources=world.resources, **FAST)
    assert held["held for approval"] == 1 and held["messages sent"] == 0
    assert offered_prices(world)[sku] == price, "Amazon still has the old price"

    omsync = str(Path(sys.executable).with_name("omsync"))
    env = {**os.environ, **world.env}
    approved = subprocess.run([omsync, "prices", "approve", sku, "NOT-HELD"], env=env, capture_output=True, text=True)
    assert approved.returncode == 1 and sku in approved.stdout and "not held, nothing to approve: NOT-HELD" in approved.stderr
    released = prices(resources=world.resources, **FAST)
    assert released["messages sent"] == 1 and released["verdict ACCEPTED"] == 1
    assert offered_prices(world)[sku] == drop
    with world.warehouse.read() as con:
        assert con.execute("SELECT status FROM ops.price_guard WHERE sku = ?", [sku]).fetchone() == ("RELEASED",)


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_rejected_price_is_sent_again_once_amazon_can_take_it(world):
    missing = sorted(expected_prices(world))[:2]
    publish_catalog(world.sandbox, world.om, skip=set(missing))
    first = prices(resources=world.resources, **FAST)
    assert first["verdict REJECTED"] == 2
    publish_catalog(world.sandbox, world.om)
    second = prices(resources=world.resources, **FAST)
    assert second["messages sent"] == 2 and second["verdict ACCEPTED"] == 2
    offered = offered_prices(world)
    assert all(offered[s] == p for s, p in expected_prices(world).items())
