"""prices (OM → Amazon): each Amazon item's AmazonPrice as its offer price, validated and guarded."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from omsync.connectors import ops
from omsync.connectors.om import OmDatabase
from omsync.connectors.om_prices import Catalog, read_catalog
from omsync.connectors.warehouse import Warehouse
from omsync.flows.listing_sync import collect_verdicts, resolve_pending, send_feeds
from omsync.flows.resources import Resources, provided
from omsync.flows.runs import recorded_run
from omsync.flows.warehouse_tasks import land, read_listing_state
from omsync.transforms.pricing import guard_price_changes, price_messages, select_price_changes, validate_prices


@task(cache_policy=NO_CACHE)
def extract_catalog(om: OmDatabase) -> Catalog:
    return read_catalog(om)


@task(cache_policy=NO_CACHE)
def guard(warehouse: Warehouse, marketplace_id: str, changes: pl.DataFrame, max_drop_percent: float, max_rise_percent: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold fat-finger changes until a person approves them (`omsync prices approve SKU…`)."""
    with warehouse.write() as con:
        approved = ops.approved_prices(con, marketplace_id)
        send, held = guard_price_changes(changes, approved, Decimal(str(max_drop_percent)) / 100, Decimal(str(max_rise_percent)) / 100)
        ops.record_held_prices(con, marketplace_id, held)
        ops.release_prices(con, marketplace_id, send.join(approved, on=["sku", "price"], how="semi")["sku"])
    return send, held


@flow(name="prices")
def prices(full: bool = False, max_drop_percent: float = 50.0, max_rise_percent: float = 200.0,
           default_product_type: str = "PRODUCT", feed_wait_seconds: float = 1800.0, resources: Resources | None = None) -> dict[str, int]:
    """AmazonPrice → Amazon offers: only what changed (everything with `full`); big jumps wait for approval."""
    with provided(resources) as r:
        warehouse, settings, catalog_read = r.warehouse, r.settings, extract_catalog.submit(r.om)  # the OM read overlaps the warehouse work
        with recorded_run("prices", warehouse) as run:
            amazon, market = r.amazon, settings.marketplace_id
            earlier = resolve_pending(amazon, warehouse, "price", market, feed_wait_seconds)
            state = read_listing_state(warehouse, "price", market)
            catalog = catalog_read.result()
            landed = land.submit(warehouse, catalog.frames(), run.run_id)
            validated = validate_prices(catalog.items, catalog.attributes, settings.currency, default_product_type)
            run.quarantine = validated.quarantine
            changes = select_price_changes(validated.prices, state, full)
            send, held = guard(warehouse, market, changes, max_drop_percent, max_rise_percent)
            send = send.with_columns(value=pl.col("price"))
            messages = price_messages(send, settings.marketplace_id, settings.currency)
            feed_ids = send_feeds(amazon, warehouse, "price", market, send, messages) if send.height else []
            verdicts = pl.concat([earlier, collect_verdicts(amazon, warehouse, "price", feed_ids, feed_wait_seconds)]) if feed_ids else earlier
            landed.result()

            run.count_in, run.count_out = validated.prices.height + validated.quarantine.height, send.height
            run.counts = {"prices valid": validated.prices.height, "prices invalid": validated.quarantine.height,
                          "messages sent": send.height, "held for approval": held.height, "feeds": len(feed_ids)}
            run.add_problems("bad OM data", validated.quarantine)
            run.add_problems("needs approval", held.select(
                "sku", raw_value=pl.format("{} → {}", pl.col("previous"), pl.col("price")),
                reason=pl.format("{}% change; run `omsync prices approve {}`", pl.col("change_percent"), pl.col("sku"))), key="sku")
            run.add_verdicts("refused by Amazon", verdicts)
            return run.counts
