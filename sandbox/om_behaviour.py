"""The OM side of a simulated trading day: what the merchant's people and warehouse do between the
flows' runs. Every choice is drawn from the seed and the moment, so the same seed gives the same day.
omsync never does any of this; the scorecard judges how omsync copes with it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from omsync.connectors.om import OmDatabase
from omsync.sandbox.om_simulator import ship_orders

REORDER_POINT = 3  # free units at or below which a replenishment is on its way
TAGS = ["", "5:1", "20:2", "2:3", "50:6"]


@dataclass(frozen=True)
class Schedule:
    """Minutes between the OM's own events."""

    ship_every: int = 30
    receive_every: int = 120
    reprice_every: int = 180
    retag_every: int = 240
    catalog_every: int = 360


def _rng(seed: int, kind: str, minute: int) -> random.Random:
    return random.Random(f"{seed}:{kind}:{minute}")


def _amazon_items(om: OmDatabase) -> pl.DataFrame:
    return om.read("""
        SELECT i.item_id, i.item_code, i.backorderable, a.value AS amazon_item, p.value AS amazon_price
        FROM item i JOIN item_attribute a ON a.item_id = i.item_id AND a.name = 'AmazonItem'
        LEFT JOIN item_attribute p ON p.item_id = i.item_id AND p.name = 'AmazonPrice'
        WHERE i.active AND a.value <> 'No' ORDER BY i.item_id""")


def warehouse_ships(om: OmDatabase, seed: int, minute: int, when: datetime) -> int:
    """About a third of the open orders ship whole each round (a few hours' delay on average); a few
    orders of several lines ship their first line now and the rest later, in a second package."""
    whole = ship_orders(om, share=0.3, seed=seed * 7919 + minute, when=when, whole=True)
    split = ship_orders(om, share=0.03, seed=seed * 7919 + minute + 1, when=when, whole=False)
    return whole.height + split.height


def receive_stock(om: OmDatabase, seed: int, minute: int) -> int:
    """Replenishment: items at or below the reorder point receive 10–40 units at their first site."""
    low = om.read("""
        WITH stock AS (SELECT item_id, min(site_id) AS site_id, sum(on_hand) AS on_hand FROM inventory WHERE on_hand >= 0 GROUP BY 1),
             held AS (SELECT item_id, sum(qty) AS held FROM inventory_hold GROUP BY 1)
        SELECT s.item_id, s.site_id FROM stock s LEFT JOIN held h USING (item_id)
        WHERE s.on_hand - coalesce(h.held, 0) <= ? ORDER BY s.item_id""", [REORDER_POINT])
    r = _rng(seed, "receive", minute)
    received = low.with_columns(qty=pl.Series([r.randint(10, 40) for _ in range(low.height)], dtype=pl.Int64))
    if received.height:
        with om.session() as con:
            con.begin()
            con.register("received", received)
            con.execute(f"UPDATE {om.table_ref('inventory')} AS i SET on_hand = i.on_hand + r.qty FROM received r "
                        "WHERE i.item_id = r.item_id AND i.site_id = r.site_id")
            con.commit()
    return received.height


def _set_attribute(om: OmDatabase, rows: pl.DataFrame, name: str, column: str) -> None:
    with om.session() as con:
        con.begin()
        con.register("edits", rows)
        con.execute(f"UPDATE {om.table_ref('item_attribute')} AS a SET {column} = e.new_value FROM edits e "
                    f"WHERE a.item_id = e.item_id AND a.name = '{name}'")
        con.commit()


def operator_reprices(om: OmDatabase, seed: int, minute: int) -> int:
    """An operator changes five prices by up to ±15 %, and mistypes one (ten times the price: the guard should hold it)."""
    items = _amazon_items(om).filter(pl.col("amazon_price").str.contains(r"^\d+\.\d\d$"))
    if items.is_empty():
        return 0
    r = _rng(seed, "reprice", minute)
    picked = items.sample(n=min(6, items.height), seed=r.randrange(2**32))
    factors = [1 + r.uniform(-0.15, 0.15) for _ in range(picked.height - 1)] + [10.0]
    edits = picked.select("item_id", new_value=(pl.col("amazon_price").cast(pl.Float64) * pl.Series(factors)).round(2)
                          .map_elements(lambda v: f"{max(v, 1.0):.2f}", return_dtype=pl.String))
    _set_attribute(om, edits, "AmazonPrice", "value")
    return edits.height


def operator_retags(om: OmDatabase, seed: int, minute: int) -> int:
    """An operator changes the reserve Tag of three items."""
    items = _amazon_items(om)
    r = _rng(seed, "retag", minute)
    picked = items.sample(n=min(3, items.height), seed=r.randrange(2**32))
    _set_attribute(om, picked.select("item_id", new_value=pl.Series([r.choice(TAGS) for _ in range(picked.height)], dtype=pl.String)),
                   "AmazonItem", "tag")
    return picked.height


def catalog_changes(om: OmDatabase, seed: int, minute: int) -> int:
    """One item becomes backorderable and one leaves Amazon (its AmazonItem becomes No)."""
    items = _amazon_items(om).filter(~pl.col("backorderable"))
    if items.height < 2:
        return 0
    r = _rng(seed, "catalog", minute)
    back, leaving = items.sample(n=2, seed=r.randrange(2**32))["item_id"].to_list()
    with om.session() as con:
        con.begin()
        con.execute(f"UPDATE {om.table_ref('item')} SET backorderable = true WHERE item_id = ?", [back])
        con.commit()
    _set_attribute(om, pl.DataFrame({"item_id": [leaving], "new_value": ["No"]}), "AmazonItem", "value")
    return 2


def act(om: OmDatabase, seed: int, minute: int, when: datetime, schedule: Schedule = Schedule()) -> dict[str, int]:
    """Whatever the OM's people and warehouse do at this minute of the day (minute 0: nothing yet)."""
    done: dict[str, int] = {}
    if minute == 0:
        return done
    if minute % schedule.ship_every == 0:
        done["shipped"] = warehouse_ships(om, seed, minute, when)
    if minute % schedule.receive_every == 0:
        done["received"] = receive_stock(om, seed, minute)
    if minute % schedule.reprice_every == 0:
        done["repriced"] = operator_reprices(om, seed, minute)
    if minute % schedule.retag_every == 0:
        done["retagged"] = operator_retags(om, seed, minute)
    if minute % schedule.catalog_every == 0:
        done["catalog"] = catalog_changes(om, seed, minute)
    return done
