"""inventory (OM → Amazon): how many units of each SKU Amazon may sell, sent as delta feeds."""

from __future__ import annotations

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from omsync.connectors.om import OmDatabase
from omsync.connectors.om_stock import Stock, read_stock
from omsync.connectors.warehouse import Warehouse, computation_key
from omsync.flows.listing_sync import collect_verdicts, patch_urgently, resolve_pending, send_feeds
from omsync.flows.resources import Resources, provided
from omsync.flows.runs import recorded_run
from omsync.flows.warehouse_tasks import land, read_listing_state
from omsync.transforms import amazon_items, availability
from omsync.transforms.availability import BACKORDER_QUANTITY, Quantities, compute_quantities
from omsync.transforms.feed_reports import VERDICT_SCHEMA
from omsync.transforms.listing_changes import quantity_messages, quantity_patches, select_quantity_changes, urgent_zeros


@task(cache_policy=NO_CACHE)
def extract_stock(om: OmDatabase) -> Stock:
    return read_stock(om)


@task(cache_policy=NO_CACHE)
def compute_stock_quantities(warehouse: Warehouse, stock: Stock, backorder_quantity: int, default_product_type: str) -> Quantities:
    """What compute_quantities gives, reused from the last computation while the OM's stock, the settings and
    the code are unchanged: a quiet OM is read every 15 minutes, and a million quantities need computing once."""
    parameters = {"backorder_quantity": backorder_quantity, "default_product_type": default_product_type}
    key = computation_key(stock.frames(), parameters, [availability, amazon_items])
    kept = warehouse.recall("inventory_quantities", key, ["quantities", "quarantine"])
    if kept is not None:
        get_run_logger().info("OM stock and settings unchanged since the last computation: its quantities are reused")
        return Quantities(kept["quantities"], kept["quarantine"])
    computed = compute_quantities(stock.items, stock.attributes, stock.inventory, stock.holds, stock.sites, **parameters)
    warehouse.remember("inventory_quantities", key, {"quantities": computed.quantities, "quarantine": computed.quarantine})
    return computed


@flow(name="inventory")
def inventory(full: bool = False, urgent_zero_cap: int = 100, backorder_quantity: int = BACKORDER_QUANTITY,
              default_product_type: str = "PRODUCT", feed_wait_seconds: float = 1800.0,
              resources: Resources | None = None) -> dict[str, int]:
    """Available-to-sell per SKU → Amazon: only what changed (everything with `full`), zeros first."""
    with provided(resources) as r:
        warehouse, stock_read = r.warehouse, extract_stock.submit(r.om)  # the OM read, the longest step, overlaps the warehouse work
        with recorded_run("inventory", warehouse) as run:
            amazon, market = r.amazon, r.settings.marketplace_id
            earlier = resolve_pending(amazon, warehouse, "quantity", market, feed_wait_seconds)
            state = read_listing_state(warehouse, "quantity", market)
            stock = stock_read.result()
            landed = land.submit(warehouse, stock.frames(), run.run_id)
            computed = compute_stock_quantities(warehouse, stock, backorder_quantity, default_product_type)
            run.quarantine = computed.quarantine
            changes = select_quantity_changes(computed.quantities, state, full).with_columns(value=pl.col("quantity"))
            zeros = urgent_zeros(changes, state, urgent_zero_cap).with_columns(value=pl.col("quantity"))
            urgent = patch_urgently(amazon, warehouse, "quantity", market, zeros, quantity_patches) if zeros.height else pl.DataFrame(schema=VERDICT_SCHEMA)
            feed_ids = send_feeds(amazon, warehouse, "quantity", market, changes, quantity_messages(changes)) if changes.height else []
            verdicts = pl.concat([earlier, collect_verdicts(amazon, warehouse, "quantity", feed_ids, feed_wait_seconds)]) if feed_ids else earlier
            landed.result()

            run.count_in, run.count_out = computed.quantities.height, changes.height
            run.counts = {"SKUs offered": int(computed.quantities["included"].sum()), "messages sent": changes.height,
                          "leaving Amazon": int(changes["leaving"].sum()), "zeros patched at once": zeros.height, "feeds": len(feed_ids)}
            run.add_problems("bad OM data", computed.quarantine)
            run.add_verdicts("refused by Amazon", verdicts)
            run.add_problems("urgent patch", urgent.filter(pl.col("verdict") != "ACCEPTED").with_columns(raw_value=pl.col("verdict")),
                             key="sku", reason="issues")
            return run.counts
