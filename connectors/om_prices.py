"""The OM's catalog as the prices flow reads it: items with their AmazonItem and AmazonPrice attributes."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from omsync.connectors.om import OmDatabase


@dataclass(frozen=True)
class Catalog:
    items: pl.DataFrame
    attributes: pl.DataFrame

    def frames(self) -> dict[str, pl.DataFrame]:
        return {"om_items": self.items, "om_item_attributes": self.attributes}


def read_catalog(om: OmDatabase) -> Catalog:
    """Items with their AmazonItem and AmazonPrice attributes, in one OM session."""
    with om.session(read_only=True) as con:
        return Catalog(
            items=con.execute("SELECT item_id, item_code, backorderable, active, unreadable FROM item").pl(),
            attributes=con.execute("SELECT item_id, name, value, tag, unreadable FROM item_attribute WHERE name IN ('AmazonItem', 'AmazonPrice')").pl(),
        )
