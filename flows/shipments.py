"""shipments (OM → Amazon): confirm shipped OM shipping orders, then close them and their invoices."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from connectors import ops
from connectors.amazon import AmazonConnector, AmazonRejected, AmazonUnavailable
from connectors.om import OmDatabase
from connectors.om_shipments import close_confirmed, record_errors, shipped_unconfirmed
from connectors.warehouse import Warehouse
from flows.runs import recorded_run
from omsync.settings import Settings
from transforms.shipments import DEFAULT_CARRIERS, build_packages, retry_filter

RESULT_SCHEMA = {"shipping_order_id": pl.Int64, "outcome": pl.String, "message": pl.String}


def _confirm(amazon: AmazonConnector, package: dict) -> dict:
    detail = {"packageReferenceId": package["package_reference_id"], "carrierCode": package["carrier_code"],
              "trackingNumber": package["tracking_number"], "shipDate": package["ship_date"], "orderItems": package["items"]}
    if package["carrier_name"]:
        detail["carrierName"] = package["carrier_name"]
    if package["shipping_method"]:
        detail["shippingMethod"] = package["shipping_method"]
    try:
        amazon.confirm_shipment(package["order_id"], detail)
        outcome, message = "CONFIRMED", None
    except AmazonRejected as exc:
        outcome, message = ("NOT_FOUND" if exc.status == 404 else "REJECTED"), exc.amazon_message or exc.code
    except AmazonUnavailable as exc:
        outcome, message = "UNAVAILABLE", str(exc)
    return {"shipping_order_id": package["shipping_order_id"], "outcome": outcome, "message": message}


@task(cache_policy=NO_CACHE)
def extract(om: OmDatabase) -> tuple[pl.DataFrame, pl.DataFrame]:
    return shipped_unconfirmed(om)


@task(cache_policy=NO_CACHE)
def confirm_all(amazon: AmazonConnector, packages: pl.DataFrame, concurrency: int) -> pl.DataFrame:
    """confirmShipment for every package, several at once; the connector keeps Amazon's 2/s (burst 10)."""
    progress = create_progress_artifact(0.0, description="packages confirmed to Amazon") if packages.height else None
    step = max(1, packages.height // 50)  # the UI needs a few dozen updates, not one per call
    results = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for done, result in enumerate(pool.map(lambda p: _confirm(amazon, p), packages.iter_rows(named=True)), start=1):
            results.append(result)
            if progress and (done % step == 0 or done == packages.height):
                update_progress_artifact(progress, 100.0 * done / packages.height)
                if done % (step * 10) == 0 or done == packages.height:  # the terminal: a line per tenth
                    get_run_logger().info("packages confirmed to Amazon: %d of %d", done, packages.height)
    return pl.DataFrame(results, schema=RESULT_SCHEMA)


@task(cache_policy=NO_CACHE)
def load_outcomes(om: OmDatabase, warehouse: Warehouse, packages: pl.DataFrame, results: pl.DataFrame, unsendable: pl.DataFrame) -> dict[str, int]:
    """OM first (close what Amazon acknowledged, note what it refused), then the warehouse's record."""
    started = time.perf_counter()
    closed = close_confirmed(om, results.filter(pl.col("outcome") == "CONFIRMED")["shipping_order_id"])
    record_errors(om, results.filter(pl.col("outcome") == "REJECTED").select("shipping_order_id", "message"))
    closed["OM write ms"] = round(1000 * (time.perf_counter() - started))
    sent = packages.join(results, on="shipping_order_id").select(
        "shipping_order_id", "order_id", "package_reference_id", "fingerprint", "outcome", "message")
    for_person = results.filter(pl.col("outcome") == "NOT_FOUND").join(packages.select("shipping_order_id", "order_id"), on="shipping_order_id").select(
        key=pl.col("shipping_order_id").cast(pl.String), raw_value="order_id",
        reason=pl.lit("Amazon does not know this order (404): check the order id in the OM"))
    with warehouse.write() as con:
        ops.record_shipments(con, sent.filter(pl.col("outcome") != "UNAVAILABLE"))
        ops.record_quarantine(con, "shipments", pl.concat([unsendable, for_person]))
    return closed


@flow(name="shipments")
def shipments(concurrency: int = 8, carriers: dict[str, str] | None = None) -> dict[str, int]:
    """Shipped, unconfirmed OM shipping orders → confirmShipment → closed shipping orders and invoices."""
    settings = Settings.from_env()
    warehouse, om = Warehouse(settings.warehouse), OmDatabase(settings.om_url)
    with recorded_run("shipments", warehouse) as run, AmazonConnector(settings) as amazon:
        found, lines = extract(om)
        packages, unsendable = build_packages(found, lines, {k.lower(): v for k, v in (carriers or DEFAULT_CARRIERS).items()})
        with warehouse.read_latest() as con:
            to_send = retry_filter(packages, ops.read_shipments(con))
        results = confirm_all(amazon, to_send, concurrency) if to_send.height else pl.DataFrame(schema=RESULT_SCHEMA)
        closed = load_outcomes(om, warehouse, to_send, results, unsendable)

        outcomes = dict(results.group_by("outcome").len().iter_rows())
        run.count_in, run.count_out = found.height, outcomes.get("CONFIRMED", 0)
        run.counts = {"shipped, unconfirmed": found.height, "sent": to_send.height, "refused before, unchanged": packages.height - to_send.height,
                      "not sendable": unsendable.height, **{f"Amazon {k.lower()}": v for k, v in sorted(outcomes.items())}, **closed}
        run.add_problems("not sendable", unsendable)
        refused = results.filter(pl.col("outcome") != "CONFIRMED").join(to_send.select("shipping_order_id", "order_id"), on="shipping_order_id")
        run.add_problems("refused by Amazon", refused.select(key=pl.col("shipping_order_id").cast(pl.String), raw_value="order_id",
                                                             reason=pl.format("{}: {}", "outcome", "message")))
        return run.counts
