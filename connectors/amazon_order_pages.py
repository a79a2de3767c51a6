"""Amazon orders streamed in batches: a background thread pages searchOrders (and fetches the orders
still waiting) while the flow imports the batch before, so Amazon and the OM work at the same time."""

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

from omsync.connectors import ops
from omsync.connectors.amazon import AmazonConnector
from omsync.connectors.warehouse import Warehouse
from omsync.core.schemas import ORDER_SCHEMA, PII_FIELDS

WATERMARK = "last_updated_before"
PARSE_BATCH = 2_000  # orders per background parse: large enough to amortise, small enough to overlap
AMAZON_SETTLING_MINUTES = 2  # Amazon's search results may still change for the last two minutes


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
        """The orders as typed Polars rows, buyer data included (for the OM only)."""
        self.parse_unparsed()
        frames = [parse.result() for parse in self.parsed]
        return pl.concat(frames) if frames else pl.DataFrame(schema=ORDER_SCHEMA)

    def landing(self) -> pl.DataFrame:
        """The landing copy without buyer data: the warehouse never holds names, e-mails or addresses."""
        return pl.DataFrame({"order_id": self.order_ids, "last_updated": self.updated, "order_json": self.redacted},
                            schema={"order_id": pl.String, "last_updated": pl.String, "order_json": pl.String})


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
        mark = ops.read_watermark(con, "orders", WATERMARK, amazon.settings.marketplace_ids)
        waiting = ops.waiting_orders(con, amazon.settings.marketplace_ids)
    before = amazon.amazon_now() - timedelta(minutes=AMAZON_SETTLING_MINUTES)
    since = datetime.fromisoformat(mark) if mark else before - timedelta(days=initial_days)
    return since - timedelta(minutes=overlap_minutes), before, waiting


def save_watermark(warehouse: Warehouse, marketplace_ids: tuple[str, ...], bound: str) -> None:
    """Every batch is in the OM and recorded: the next run starts from Amazon's own bound."""
    with warehouse.write() as con:
        ops.save_watermark(con, "orders", WATERMARK, marketplace_ids, bound)


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
