"""orders (Amazon → OM): every Amazon order as an OM sales order, exactly once, with its customer."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from connectors import ops
from connectors.amazon import AmazonConnector
from connectors.om import OmDatabase
from connectors.om_sales import cancel_orders, candidate_customers, load_orders, orders_in_om, stock_by_site
from connectors.warehouse import Warehouse
from flows.runs import recorded_run
from flows.warehouse_tasks import land
from omsync.settings import Settings
from transforms.customers import match_customers
from transforms.orders import (ORDER_SCHEMA, PII_FIELDS, choose_hold_sites, flatten_lines, flatten_orders, latest_versions,
                               plan_orders)

WATERMARK = "last_updated_before"


PARSE_BATCH = 2_000  # orders per background parse: large enough to amortise, small enough to overlap


@dataclass
class Fetched:
    """The orders as typed rows (complete, for the OM), parsed in a background thread while the next
    pages download (Polars parses without holding the GIL); and as JSON text without buyer data (for
    the warehouse)."""

    parser: ThreadPoolExecutor
    parsed: list[Future] = field(default_factory=list)
    unparsed: list[bytes] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)
    order_ids: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    def add(self, orders: list[dict]) -> None:
        for order in orders:
            self.unparsed.append(orjson.dumps(order))
            self.redacted.append(orjson.dumps({k: v for k, v in order.items() if k not in PII_FIELDS}).decode())
            self.order_ids.append(order["orderId"])
            self.updated.append(order["lastUpdatedTime"])
        if len(self.unparsed) >= PARSE_BATCH:
            self.parse_unparsed()

    def parse_unparsed(self) -> None:
        if self.unparsed:
            self.parsed.append(self.parser.submit(_parse_orders, self.unparsed))
            self.unparsed = []

    def rows(self) -> pl.DataFrame:
        self.parse_unparsed()
        frames = [parse.result() for parse in self.parsed]
        return pl.concat(frames) if frames else pl.DataFrame(schema=ORDER_SCHEMA)


def _parse_orders(lines: list[bytes]) -> pl.DataFrame:
    return pl.read_ndjson(io.BytesIO(b"\n".join(lines)), schema=ORDER_SCHEMA)


@task(cache_policy=NO_CACHE)
def fetch_orders(amazon: AmazonConnector, warehouse: Warehouse, overlap_minutes: float, initial_days: float) -> tuple[Fetched, str]:
    """Every order updated since the watermark (minus an overlap), plus the orders still waiting; and
    Amazon's own lastUpdatedBefore, the next watermark."""
    with warehouse.read_latest() as con:
        mark = ops.read_watermark(con, "orders", WATERMARK)
        waiting = ops.waiting_orders(con)
    before = amazon.amazon_now() - timedelta(minutes=2)
    since = datetime.fromisoformat(mark) if mark else before - timedelta(days=initial_days)
    bound = None
    with ThreadPoolExecutor(1, thread_name_prefix="omsync-parse") as parser, _no_cycle_collection():
        fetched = Fetched(parser)
        for page in amazon.search_orders(since - timedelta(minutes=overlap_minutes), before):
            fetched.add(page.get("orders", []))
            bound = page.get("lastUpdatedBefore") or bound
        fetched.add([amazon.get_order(order_id) for order_id in waiting])
        fetched.parse_unparsed()
    return fetched, (bound or before.strftime("%Y-%m-%dT%H:%M:%SZ"))


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Each page decodes ~30,000 short-lived objects, which set off collections that walk everything
    alive (Prefect and the libraries: ~350,000 objects): measured, a sixth of a 30,000-order fetch.
    Decoded JSON holds no reference cycles, so reference counting frees the pages; the cycle
    collector resumes when the fetch ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def as_frame(fetched: Fetched) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The orders as typed Polars rows (buyer data included, for the OM only) and their landing copy
    without it (the warehouse never holds names, e-mails or addresses)."""
    raw = fetched.rows()
    redacted = pl.DataFrame({"order_id": fetched.order_ids, "last_updated": fetched.updated, "order_json": fetched.redacted},
                            schema={"order_id": pl.String, "last_updated": pl.String, "order_json": pl.String})
    return latest_versions(raw), redacted


@task(cache_policy=NO_CACHE)
def import_orders(om: OmDatabase, marketplace_id: str, terms_code: str, orders: pl.DataFrame, lines: pl.DataFrame, items: pl.DataFrame, plan) -> dict:
    """Match customers, then create customers, orders, lines and holds in one OM transaction; cancel what Amazon cancelled."""
    to_import = plan.to_import
    matches = match_customers(to_import, candidate_customers(om, to_import), marketplace_id)
    batch_lines = lines.join(to_import.select("order_id"), on="order_id").join(items.select("item_id", sku="item_code"), on="sku")
    merchant = batch_lines.join(to_import.filter(pl.col("fulfilled_by") == "MERCHANT").select("order_id"), on="order_id")
    sited = choose_hold_sites(batch_lines, stock_by_site(om, merchant["item_id"])) if merchant.height else batch_lines.with_columns(site_id=pl.lit(None, pl.Int64))
    loaded = load_orders(om, to_import.join(matches.orders.select("order_id", "customer_no"), on="order_id"), sited, matches.new_customers, terms_code)
    cancelled = cancel_orders(om, plan.to_cancel["order_id"]) if plan.to_cancel.height else None
    return {"loaded": loaded, "matches": matches, "cancelled": cancelled}


@task(cache_policy=NO_CACHE)
def record(warehouse: Warehouse, plan, imported: dict, bound: str) -> None:
    """After the OM commit: what each order became, the waiting queue, then the watermark (Amazon's own bound)."""
    loaded, matches, cancelled = imported["loaded"], imported["matches"], imported["cancelled"]
    seen = (
        plan.record.join(plan.waiting, on="order_id", how="left")
        .join(loaded.ids, on="order_id", how="left")
        .join(matches.orders.select("order_id", "match_rule"), on="order_id", how="left")
    )
    if cancelled is not None and cancelled.already_shipped.height:
        seen = seen.with_columns(
            import_state=pl.when(pl.col("order_id").is_in(cancelled.already_shipped["order_id"].implode())).then(pl.lit("CANCELLED_AFTER_SHIPPING"))
            .otherwise("import_state"),
            reason=pl.when(pl.col("order_id").is_in(cancelled.already_shipped["order_id"].implode()))
            .then(pl.lit("Amazon cancelled an order the OM has already shipped: a person must decide")).otherwise("reason"))
    exceptions = seen.filter(pl.col("reason").is_not_null()).select(key="order_id", raw_value="status", reason="reason")
    with warehouse.write() as con:
        ops.record_orders(con, seen.select("order_id", "status", "fulfilled_by", "last_updated", "import_state", "reason",
                                           "sales_order_id", "customer_id", "match_rule"))
        ops.record_quarantine(con, "orders", exceptions)
        ops.save_watermark(con, "orders", WATERMARK, bound)


@flow(name="orders")
def orders(overlap_minutes: float = 10.0, initial_days: float = 30.0, terms_code: str = "NET14") -> dict[str, int]:
    """Amazon orders updated since the last run → OM sales orders (new), cancellations (updated), waiting orders retried."""
    settings = Settings.from_env()
    warehouse, om = Warehouse(settings.warehouse), OmDatabase(settings.om_url)
    with recorded_run("orders", warehouse) as run, AmazonConnector(settings) as amazon:
        fetched, bound = fetch_orders(amazon, warehouse, overlap_minutes, initial_days)
        raw, redacted = as_frame(fetched)
        land(warehouse, {"amazon_orders": redacted}, run.run_id)
        flat, lines = flatten_orders(raw), flatten_lines(raw)
        items = om.read("SELECT item_id, item_code FROM item")
        plan = plan_orders(flat, lines, items, orders_in_om(om, flat["order_id"]))
        imported = import_orders(om, settings.marketplace_id, terms_code, flat, lines, items, plan)
        record(warehouse, plan, imported, bound)

        loaded, matches, cancelled = imported["loaded"], imported["matches"], imported["cancelled"]
        states = dict(plan.record.group_by("import_state").len().iter_rows())
        run.count_in, run.count_out = flat.height, loaded.orders_created
        run.counts = {"orders seen": flat.height, "new in OM": loaded.orders_created, "lines": loaded.lines_created,
                      "holds": loaded.holds_created, "cancelled in OM": 0 if cancelled is None else cancelled.cancelled.height,
                      "waiting": plan.waiting.height, "pending at Amazon": states.get("PENDING", 0),
                      "cancelled before import": states.get("CANCELLED_BEFORE_IMPORT", 0), "customers created": loaded.customers_created,
                      **{f"customers by {rule}": n for rule, n in matches.orders.group_by("match_rule").len().sort("match_rule").iter_rows()}}
        run.add_problems("waiting", plan.waiting.select(key="order_id", raw_value=pl.lit("WAITING"), reason="reason"))
        if cancelled is not None:
            run.add_problems("cancelled after shipping", cancelled.already_shipped.select(
                key="order_id", raw_value=pl.lit("CANCELLED"), reason=pl.lit("the OM shipped it already: decide on a refund or return")))
        return run.counts
