"""What one flow write costs against the warehouse's size: `ops.record_sent` of 100 SKUs (what a listing
flow writes after a feed) into a warehouse holding 1,000,000 listing rows, against the same write into
an empty one, in the same run, on the SQLite catalog (one machine) and on the PostgreSQL one (several).

A write is one DuckLake transaction: it adds a small file (or inlines the rows in the catalog) and a
snapshot, and never rewrites or copies what is there, so the ratio should stay near 1.
"""

import os
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks.postgres import postgres_url
from omsync.connectors import ops
from omsync.connectors.frames import registered
from omsync.connectors.warehouse import Warehouse
from omsync.core.settings import DEFAULT_MARKETPLACE_ID

WRITES = 15  # timed writes per warehouse; the median is the figure
SKUS = 100


def _fill(warehouse: Warehouse, rows: int) -> None:
    """`rows` quantity rows in ops.listing_state, as a million-SKU account's inventory run leaves them."""
    with warehouse.write() as con:
        con.execute(
            "INSERT INTO ops.listing_state (marketplace_id, sku, attribute, product_type, sent, accepted, feed_id, "
            "message_id, verdict, sent_at, verdict_at) "
            "SELECT $marketplace, printf('SKU-%08d', i), 'quantity', 'PRODUCT', CAST(i % 50 AS VARCHAR), "
            "CAST(i % 50 AS VARCHAR), 'F' || (i // 25000), CAST(i % 25000 + 1 AS INTEGER), 'ACCEPTED', now(), now() "
            "FROM range($rows) t(i)",
            {"marketplace": DEFAULT_MARKETPLACE_ID, "rows": rows})


def _sent(round_: int, rows: int) -> pl.DataFrame:
    """100 SKUs spread over the warehouse's (each write changes their quantity), as one feed's answers."""
    return pl.DataFrame({
        "sku": [f"SKU-{i * (rows // SKUS):08d}" for i in range(SKUS)],
        "product_type": ["PRODUCT"] * SKUS,
        "value": [round_ * 7 + i % 5 for i in range(SKUS)],
        "feed_id": [f"BENCH-{round_}"] * SKUS,
        "message_id": list(range(1, SKUS + 1)),
    })


def _record_sent(warehouse: Warehouse, round_: int, rows: int) -> None:
    with warehouse.write() as con:
        ops.record_sent(con, "quantity", DEFAULT_MARKETPLACE_ID, _sent(round_, rows))


def _append(warehouse: Warehouse, round_: int, rows: int) -> None:
    """100 new rows that read nothing first: the commit alone, without record_sent's lookups of the
    SKUs it knows (an UPDATE joined to the table, an INSERT of those not in it)."""
    frame = _sent(round_, rows).with_columns(sku=pl.format("NEW-{}-{}", pl.lit(round_), pl.col("message_id")))
    with warehouse.write() as con, registered(con, "new_rows", frame):
        con.execute("INSERT INTO ops.listing_state (marketplace_id, sku, attribute, product_type, sent, feed_id, message_id, "
                    "verdict, sent_at) SELECT ?, sku, 'quantity', product_type, CAST(value AS VARCHAR), feed_id, message_id, "
                    "'PENDING', now() FROM new_rows", [DEFAULT_MARKETPLACE_ID])


def _paired(write, empty: Warehouse, full: Warehouse, rows: int) -> tuple[float, float]:
    """The median seconds of `write` into each warehouse, the two taking turns so that both see the
    same load (this machine's other work moves figures by tens of percent within a minute). Round 0 is
    untimed: it creates the SKUs in the empty warehouse."""
    times: tuple[list[float], list[float]] = ([], [])
    for round_ in range(WRITES + 1):
        for warehouse, kept in ((empty, times[0]), (full, times[1])):
            started = time.perf_counter()
            write(warehouse, round_, rows)
            if round_:
                kept.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def _measure(label: str, empty: Warehouse, full: Warehouse, rows: int) -> None:
    empty.init()
    started = time.perf_counter()
    _fill(full, rows)
    filled = time.perf_counter() - started
    figures = {"record_sent of": _paired(_record_sent, empty, full, rows)}
    with full.read() as con:
        changed = con.execute("SELECT count(*) FROM ops.listing_state WHERE feed_id = ?", [f"BENCH-{WRITES}"]).fetchone()[0]
        assert (con.execute("SELECT count(*) FROM ops.listing_state").fetchone()[0], changed) == (rows, SKUS)
    figures["append of     "] = _paired(_append, empty, full, rows)
    print(f"{label}: {rows:,} listing rows written in {filled:.1f} s (one transaction)")
    for what, (into_empty, into_full) in figures.items():
        print(f"  {what} {SKUS} SKUs, median of {WRITES}: empty warehouse {into_empty * 1000:6.1f} ms   1.00x")
        print(f"  {what} {SKUS} SKUs, median of {WRITES}: {rows:,} rows    {into_full * 1000:6.1f} ms   {into_full / into_empty:.2f}x")


def main() -> None:
    rows = int(os.environ.get("OMSYNC_BENCH_LISTING_ROWS", "1000000"))
    with tempfile.TemporaryDirectory(prefix="omsync-bench-wh-") as folder:
        base = Path(folder)
        _measure("SQLite catalog", Warehouse(base / "empty" / "warehouse.duckdb"), Warehouse(base / "full" / "warehouse.duckdb"), rows)
        with postgres_url() as url:
            import psycopg

            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("CREATE DATABASE bench_empty_catalog")
            empty_url = url.rsplit("/", 1)[0] + "/bench_empty_catalog"
            _measure("PostgreSQL catalog",
                     Warehouse(base / "pg-empty" / "warehouse.duckdb", empty_url, str(base / "pg-empty-data")),
                     Warehouse(base / "pg-full" / "warehouse.duckdb", url, str(base / "pg-full-data")), rows)
