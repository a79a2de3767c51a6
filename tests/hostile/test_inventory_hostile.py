"""Hostile OM stock never stops the inventory run: each bad row is quarantined with its raw value and
the item gets the oversell-safe quantity; every other SKU goes out as it would alone (issue 16)."""

import polars as pl
import pytest

from omsync.demo import publish_catalog
from omsync.flows.inventory import inventory
from tests.flows.test_inventory import FAST, backorderable_skus, expected_quantities
from tests.hostile.conftest import item_id, quarantined, raw_sql


def plain_skus(world, n: int) -> list[str]:
    """SKUs on Amazon whose quantity comes from stock (not backorderable)."""
    backorderable = backorderable_skus(world)
    return [s for s in sorted(expected_quantities(world)) if s not in backorderable][:n]


def set_stock(world, sku: str, on_hand: list) -> None:
    """The item's stock at the first sites, no holds, no Tag: its quantity is the plain sum."""
    item = item_id(world, sku)
    sites = world.om.read("SELECT site_id FROM site ORDER BY site_id")["site_id"].to_list()
    raw_sql(world, "DELETE FROM {inventory} WHERE item_id = ?", [item])
    raw_sql(world, "DELETE FROM {inventory_hold} WHERE item_id = ?", [item])
    raw_sql(world, "UPDATE {item_attribute} SET tag = NULL WHERE item_id = ? AND name = 'AmazonItem'", [item])
    for site, value in zip(sites, on_hand):
        raw_sql(world, "INSERT INTO {inventory} (item_id, site_id, on_hand) VALUES (?, ?, ?)", [item, site, value])


def test_huge_stock_is_capped_and_an_oversized_tag_value_is_quarantined(world):
    publish_catalog(world.sandbox, world.om)
    huge, tagged = plain_skus(world, 2)
    set_stock(world, huge, [2**62, 2**62, 2**62])
    set_stock(world, tagged, [7, 5])
    raw_sql(world, "UPDATE {item_attribute} SET tag = ? WHERE item_id = ? AND name = 'AmazonItem'",
            ["99999999999999999999999999:3", item_id(world, tagged)])
    others = {s: q for s, q in expected_quantities(world).items() if s not in (huge, tagged)}

    run = inventory(**FAST, resources=world.resources)

    listings = world.listings()
    assert listings[huge]["quantity"] == 99_999, "2^62 at each of three sites is more than the cap, never 0"
    assert listings[tagged]["quantity"] == 12, "an unreadable Tag sends the unadjusted quantity"
    assert {s: listings[s]["quantity"] for s in others} == others
    assert run.get("verdict ACCEPTED", 0) == run["messages sent"]
    bad = quarantined(world, "inventory").filter(pl.col("raw_value") == "99999999999999999999999999:3")
    assert bad.height == 1 and bad["key"].item() == tagged and "unadjusted" in bad["reason"].item()


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_values_of_the_wrong_type_are_quarantined_and_read_oversell_safe(world):
    publish_catalog(world.sandbox, world.om)
    text_stock, fraction_stock, bad_hold = plain_skus(world, 3)
    set_stock(world, text_stock, ["abc", 5])
    set_stock(world, fraction_stock, [3.7, 4])
    set_stock(world, bad_hold, [10, 10])
    held = item_id(world, bad_hold)
    raw_sql(world, "INSERT INTO {inventory_hold} (item_id, site_id, qty, reason) VALUES (?, 1, ?, 'test')", [held, "xyz"])
    others = {s: q for s, q in expected_quantities_without(world, [text_stock, fraction_stock, bad_hold]).items()}

    run = inventory(**FAST, resources=world.resources)

    listings = world.listings()
    assert listings[text_stock]["quantity"] == 5, "a stock row that cannot be read counts as 0"
    assert listings[fraction_stock]["quantity"] == 4, "3.7 units is no whole count: counted as 0, not rounded"
    assert listings[bad_hold]["quantity"] == 0, "a hold that cannot be read blocks the item"
    assert {s: listings[s]["quantity"] for s in others} == others
    assert run.get("verdict ACCEPTED", 0) == run["messages sent"]
    found = quarantined(world, "inventory")
    for key, raw in ((f"{text_stock}@", "on_hand=abc"), (f"{fraction_stock}@", "on_hand=3.7"), ("hold ", "qty=xyz")):
        row = found.filter(pl.col("raw_value") == raw)
        assert row.height == 1, f"{raw} is quarantined once with its raw value"
        assert row["key"].item().startswith(key) and "not of its column's type" in row["reason"].item()


def expected_quantities_without(world, skus: list[str]) -> dict[str, int]:
    """expected_quantities over the readable rows, for every SKU but these."""
    ids = [item_id(world, s) for s in skus]
    with_bad = world.om.sqlite_path
    import sqlite3

    with sqlite3.connect(with_bad) as db:  # the other items' rows are all well typed
        saved = db.execute(f"SELECT item_id, site_id, on_hand FROM inventory WHERE item_id IN ({','.join('?' * len(ids))})", ids).fetchall()
        saved_holds = db.execute(f"SELECT hold_id, item_id, site_id, qty, reason FROM inventory_hold WHERE item_id IN ({','.join('?' * len(ids))})", ids).fetchall()
        db.execute(f"DELETE FROM inventory WHERE item_id IN ({','.join('?' * len(ids))})", ids)
        db.execute(f"DELETE FROM inventory_hold WHERE item_id IN ({','.join('?' * len(ids))})", ids)
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    try:
        return {s: q for s, q in expected_quantities(world).items() if s not in skus}
    finally:
        with sqlite3.connect(with_bad) as db:
            db.executemany("INSERT INTO inventory VALUES (?, ?, ?)", saved)
            db.executemany("INSERT INTO inventory_hold (hold_id, item_id, site_id, qty, reason) VALUES (?, ?, ?, ?, ?)", saved_holds)
            db.commit()
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
