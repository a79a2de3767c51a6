"""shipments (OM → Amazon): confirm shipped OM shipping orders, then close them and their invoices."""

from __future__ import annotations

import time

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from omsync.connectors import ops
from omsync.connectors.om import OmDatabase
from omsync.connectors.om_shipments import close_confirmed, record_errors, shipped_unconfirmed
from omsync.connectors.shipment_confirmations import RESULT_SCHEMA, confirm_in_batches
from omsync.connectors.warehouse import Warehouse
from omsync.flows.resources import Resources, provided
from omsync.flows.runs import recorded_run
from omsync.transforms.shipments import (build_packages, carrier_codes, invoices_to_close, package_details, refusals, retry_filter,
                                  shipment_problems)


@task(cache_policy=NO_CACHE)
def extract(om: OmDatabase) -> tuple[pl.DataFrame, pl.DataFrame]:
    return shipped_unconfirmed(om)


def load_outcomes(om: OmDatabase, warehouse: Warehouse, packages: pl.DataFrame, results: pl.DataFrame) -> dict[str, int]:
    """One batch of Amazon's answers: OM first (close what Amazon acknowledged, note what it refused), then
    the warehouse's record. A plain function, not a task: it runs every second, and a task's bookkeeping
    in Prefect would delay the record it makes."""
    started = time.perf_counter()
    closed = close_confirmed(om, results.filter(pl.col("outcome") == "CONFIRMED")["shipping_order_id"], invoices_to_close)
    record_errors(om, results.filter(pl.col("outcome") == "REJECTED").select("shipping_order_id", "message"))
    closed["OM write ms"] = round(1000 * (time.perf_counter() - started))
    sent = packages.join(results, on="shipping_order_id").select(
        "shipping_order_id", "order_id", "package_reference_id", "fingerprint", "outcome", "message")
    with warehouse.write() as con:
        ops.record_shipments(con, sent.filter(pl.col("outcome") != "UNAVAILABLE"))
        ops.record_quarantine(con, "shipments", shipment_problems(results, packages), complete=False)
    return closed


@task(cache_policy=NO_CACHE)
def confirm_and_record(r: Resources, packages: pl.DataFrame, concurrency: int) -> tuple[pl.DataFrame, dict[str, int]]:
    """confirmShipment for every package; each small batch of answers is recorded as it comes, so a
    killed run resends at most the confirmations in flight."""
    progress = create_progress_artifact(0.0, description="packages confirmed to Amazon") if packages.height else None
    answered, closed = [pl.DataFrame(schema=RESULT_SCHEMA)], {"shipping orders closed": 0, "invoices closed": 0, "OM write ms": 0}
    done = 0
    for results in confirm_in_batches(r.amazon, package_details(packages), concurrency):
        closed = {k: closed[k] + v for k, v in load_outcomes(r.om, r.warehouse, packages, results).items()}
        answered.append(results)
        before, done = done, done + results.height
        update_progress_artifact(progress, 100.0 * done / packages.height)
        if 10 * done // packages.height > 10 * before // packages.height:  # the terminal: a line per tenth, and the last
            get_run_logger().info("packages confirmed to Amazon: %d of %d", done, packages.height)
    return pl.concat(answered), closed


@flow(name="shipments")
def shipments(concurrency: int = 8, carriers: dict[str, str] | None = None, resources: Resources | None = None) -> dict[str, int]:
    """Shipped, unconfirmed OM shipping orders → confirmShipment → closed shipping orders and invoices."""
    with provided(resources) as r, recorded_run("shipments", r.warehouse) as run:
        found, lines = extract(r.om)
        packages, unsendable = build_packages(found, lines, carrier_codes(carriers))
        with r.warehouse.read_latest() as con:
            to_send = retry_filter(packages, ops.read_shipments(con))
        results, closed = confirm_and_record(r, to_send, concurrency)
        run.quarantine = pl.concat([unsendable, shipment_problems(results, to_send)])

        outcomes = dict(results.group_by("outcome").len().iter_rows())
        run.count_in, run.count_out = found.height, outcomes.get("CONFIRMED", 0)
        run.counts = {"shipped, unconfirmed": found.height, "sent": to_send.height, "refused before, unchanged": packages.height - to_send.height,
                      "not sendable": unsendable.height, **{f"Amazon {k.lower()}": v for k, v in sorted(outcomes.items())}, **closed}
        run.add_problems("not sendable", unsendable)
        run.add_problems("refused by Amazon", refusals(results, to_send))
        return run.counts
