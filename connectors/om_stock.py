"""The OM's stock as the inventory flow reads it: items, their Amazon attributes, stock per site,
holds and sites, in one OM session."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from omsync.connectors.om import OmDatabase


@dataclass(frozen=True)
class Stock:
    items: pl.DataFrame
    attributes: pl.DataFrame
    inventory: pl.DataFrame
    holds: pl.DataFrame
    sites: pl.DataFrame

    def frames(self) -> dict[str, pl.DataFrame]:
        return {"om_items": self.items, "om_item_attributes": self.attributes, "om_inventory": self.inventory,
                "om_inventory_holds": self.holds, "om_sites": self.sites}


def read_stock(om: OmDatabase) -> Stock:
    """Items, their AmazonItem attributes, stock per site, holds and sites, in one OM session."""
    with om.session(read_only=True) as con:
        return Stock(
            items=con.execute("SELECT item_id, item_code, backorderable, active, unreadable FROM item").pl(),
            attributes=con.execute("SELECT item_id, name, value, tag, unreadable FROM item_attribute WHERE name = 'AmazonItem'").pl(),
            # A zero row adds nothing to any sum and a missing row counts as zero, so zero rows (a
            # third of the benchmark OM's) stay in the database; unreadable ones are quarantined.
            inventory=con.execute("SELECT item_id, site_id, on_hand, unreadable FROM inventory WHERE on_hand <> 0 OR unreadable IS NOT NULL").pl(),
            holds=con.execute("SELECT hold_id, item_id, site_id, qty, unreadable FROM inventory_hold").pl(),
            sites=con.execute("SELECT site_id, code, unreadable FROM site").pl(),
        )
