"""orders (Amazon → OM): every Amazon order as an OM sales order, exactly once, with its customer."""

from __future__ import annotations

import gc
import io
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from queue import Full, Queue

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
                               plan_orders, unchanged_orders)

WATERMARK = "last_updated_before"
BATCH_ORDERS = 20_000  # per OM transaction: the next batch downloads while this one is imported
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


class OrderStream:
    """Every order updated since the watermark (minus an overlap), then the orders still waiting, in
    batches of about `batch_size`, fetched by a background thread while the flow imports the batch
    before (Amazon and the OM work at the same time). `bound`: Amazon's own lastUpdatedBefore, the
    next watermark, once the stream is exhausted."""

    def __init__(self, amazon: AmazonConnector, since: datetime, before: datetime, waiting: list[str], batch_size: int) -> None:
        self.bound = before.strftime("%Y-%m-%dT%H:%M:%SZ")
        self._batches: Queue = Queue(maxsize=2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._fetch, args=(amazon, since, before, waiting, batch_size),
                                        name="omsync-orders-fetch", daemon=True)

    def __enter__(self) -> Iterator[Fetched]:
        self._thread.start()
        return self._consume()

    def __exit__(self, *exc) -> None:
        self._stopped.set()
        self._thread.join()

    def _consume(self) -> Iterator[Fetched]:
        while (batch := self._batches.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            yield batch

    def _put(self, item) -> None:
        while not self._stopped.is_set():
            try:
                return self._batches.put(item, timeout=0.5)
            except Full:
                continue

    def _fetch(self, amazon: AmazonConnector, since: datetime, before: datetime, waiting: list[str], batch_size: int) -> None:
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="omsync-parse") as parser, _no_cycle_collection():
                fetched = Fetched(parser)
                for page in amazon.search_orders(since, before):
                    fetched.add(page.get("orders", []))
                    self.bound = page.get("lastUpdatedBefore") or self.bound
                    if len(fetched.order_ids) >= batch_size:
                        fetched.parse_unparsed()
                        self._put(fetched)
                        fetched = Fetched(parser)
                    if self._stopped.is_set():
                        return
                fetched.add([amazon.get_order(order_id) for order_id in waiting])
                fetched.parse_unparsed()
            self._put(fetched)
            self._put(None)
        except BaseException as exc:
            self._put(exc)


def order_window(amazon: AmazonConnector, warehouse: Warehouse, overlap_minutes: float, initial_days: float) -> tuple[datetime, datetime, list[str]]:
    """Since the watermark minus the overlap (or `initial_days` back) until two minutes ago by Amazon's
    clock, and the orders still waiting."""
    with warehouse.read_latest() as con:
        mark = ops.read_watermark(con, "orders", WATERMARK)
        waiting = ops.waiting_orders(con)
    before = amazon.amazon_now() - timedelta(minutes=2)
    since = datetime.fromisoformat(mark) if mark else before - timedelta(days=initial_days)
    return since - timedelta(minutes=overlap_minutes), before, waiting


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
def record(warehouse: Warehouse, plan, imported: dict) -> None:
    """After the batch's OM commit: what each of its orders became, and the waiting queue."""
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


@task(cache_policy=NO_CACHE)
def save_watermark(warehouse: Warehouse, bound: str) -> None:
    """Every batch is in the OM and recorded: the next run starts from Amazon's own bound."""
    with warehouse.write() as con:
        ops.save_watermark(con, "orders", WATERMARK, bound)


@flow(name="orders")
def orders(overlap_minutes: float = 10.0, initial_days: float = 30.0, terms_code: str = "NET14") -> dict[str, int]:
    """Amazon orders updated since the last run → OM sales orders (new), cancellations (updated), waiting orders retried."""
    settings = Settings.from_env()
    warehouse, om = Warehouse(settings.warehouse), OmDatabase(settings.om_url)
    with recorded_run("orders", warehouse) as run, AmazonConnector(settings) as amazon:
        since, before, waiting = order_window(amazon, warehouse, overlap_minutes, initial_days)
        items = om.read("SELECT item_id, item_code FROM item")
        plans, imports = [], []
        stream = OrderStream(amazon, since, before, waiting, BATCH_ORDERS)
        with stream as batches:
            for number, fetched in enumerate(batches, start=1):
                raw, redacted = as_frame(fetched)
                land(warehouse, {"amazon_orders": redacted}, f"{run.run_id}-{number}")
                flat, lines = flatten_orders(raw), flatten_lines(raw)
                plan = plan_orders(flat, lines, items, orders_in_om(om, flat["order_id"]))
                imported = import_orders(om, settings.marketplace_id, terms_code, flat, lines, items, plan)
                record(warehouse, plan, imported)
                plans.append(plan)
                imports.append(imported)
        save_watermark(warehouse, stream.bound)

        seen = pl.concat([p.record for p in plans])
        waiting_now = pl.concat([p.waiting for p in plans])
        loaded = [i["loaded"] for i in imports]
        cancelled = [i["cancelled"] for i in imports if i["cancelled"] is not None]
        rules = pl.concat([i["matches"].orders.select("match_rule") for i in imports])
        states = dict(seen.group_by("import_state").len().iter_rows())
        run.count_in, run.count_out = seen.height, sum(l.orders_created for l in loaded)
        changed = sum(c.cancelled.height + c.already_shipped.height for c in cancelled)
        run.counts = {"orders seen": seen.height, "new in OM": run.count_out,
                      "unchanged": unchanged_orders(seen, run.count_out, changed), "lines": sum(l.lines_created for l in loaded),
                      "holds": sum(l.holds_created for l in loaded), "cancelled in OM": sum(c.cancelled.height for c in cancelled),
                      "cancelled after shipping": sum(c.already_shipped.height for c in cancelled),
                      "waiting": waiting_now.height, "pending at Amazon": states.get("PENDING", 0),
                      "cancelled before import": states.get("CANCELLED_BEFORE_IMPORT", 0),
                      "customers created": sum(l.customers_created for l in loaded),
                      **{f"customers by {rule}": n for rule, n in rules.group_by("match_rule").len().sort("match_rule").iter_rows()}}
        run.add_problems("waiting", waiting_now.select(key="order_id", raw_value=pl.lit("WAITING"), reason="reason"))
        for c in cancelled:
            run.add_problems("cancelled after shipping", c.already_shipped.select(
                key="order_id", raw_value=pl.lit("CANCELLED"), reason=pl.lit("the OM shipped it already: decide on a refund or return")))
        return run.counts
