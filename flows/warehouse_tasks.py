"""Warehouse steps every flow shares: land the raw extract, read listing state."""

from __future__ import annotations

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from omsync.connectors import ops
from omsync.connectors.warehouse import Warehouse


@task(cache_policy=NO_CACHE)
def land(warehouse: Warehouse, frames: dict[str, pl.DataFrame], batch: str) -> None:
    """Keep the raw extract beside the warehouse (Parquet), queryable as landing.<name>; a frame
    identical to its newest landing is not landed again."""
    changed = {name: frame for name, frame in frames.items() if not warehouse.landed_already(name, frame)}
    if changed:
        with warehouse.write() as con:
            for name, frame in changed.items():
                warehouse.land(con, name, frame, batch)


@task(cache_policy=NO_CACHE)
def read_listing_state(warehouse: Warehouse, attribute: ops.Attribute, marketplace_id: str) -> pl.DataFrame:
    with warehouse.read_latest() as con:
        return ops.read_listing_state(con, attribute, marketplace_id)
