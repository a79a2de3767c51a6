"""The settlement flow on a 1,000,000-line settlement file against 200,000 OM invoices in PostgreSQL,
end to end (a Prefect flow run in its own process), beside the time DuckDB's read_csv needs just to
read the same file into a table."""

import os
import time
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import polars as pl

from benchmarks.flow_runs import flow_bench, run_child
from omsync.connectors.om import OmDatabase

CHILD = """
import json, sys, time
from omsync.flows.resources import Resources
from omsync.flows.settlement import settlement
from omsync.core.settings import Settings
started = time.perf_counter()
counts = settlement(files=[sys.argv[1]], resources=Resources(Settings.from_env()))
print("OMSYNC-BENCH " + json.dumps({"seconds": time.perf_counter() - started, "counts": counts}))
"""
HEADER = ("settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\ttransaction-type\t"
          "order-id\tmerchant-order-id\tadjustment-id\tshipment-id\tmarketplace-name\tamount-type\tamount-description\tamount\t"
          "fulfillment-id\tposted-date\tposted-date-time\torder-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\tsku\t"
          "quantity-purchased\tpromotion-id")
LINES_PER_ORDER = (("ItemPrice", "Principal", 1.0), ("ItemPrice", "Tax", 0.08), ("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", -0.08),
                   ("ItemFees", "Commission", -0.15), ("ItemPrice", "Shipping", 0.05))


def om_with_invoices(om: OmDatabase, orders: int) -> pl.DataFrame:
    """`orders` Amazon orders: 1 in 200 unknown to the OM, the rest a sales order with one invoice, 1 in
    100 of them a dollar more than Amazon pays; returns (order_id, cents of principal) of each."""
    ids = pl.int_range(1, orders + 1, eager=True)
    cents = (ids.hash(seed=1) % 20_000 + 500).cast(pl.Int64).alias("cents")
    frame = pl.DataFrame({"sales_order_id": ids, "cents": cents}).with_columns(
        order_id=pl.format("111-{}-{}", pl.col("sales_order_id").cast(pl.String).str.zfill(7), (pl.col("sales_order_id") * 7919 % 10**7).cast(pl.String).str.zfill(7)))
    principal = pl.col("cents") * 100  # whole dollars of principal, so that every line is exact
    total = (principal * 113 / 100).cast(pl.Int64)  # principal + 8 % tax + 5 % shipping
    when = datetime(2026, 11, 1, tzinfo=timezone.utc)
    sales = frame.select("sales_order_id", order_no=pl.format("AMZ-{}", "sales_order_id"), channel=pl.lit("AMAZON"), external_order_id="order_id",
                         customer_id=pl.lit(1, pl.Int64), order_date=pl.lit(when), status=pl.lit("closed"), currency=pl.lit("USD"),
                         total=(total / 100).cast(pl.Decimal(18, 4)), terms_code=pl.lit("NET14"))
    invoices = frame.select(invoice_id="sales_order_id", invoice_no=pl.format("INV-{}", "sales_order_id"), sales_order_id="sales_order_id",
                            customer_id=pl.lit(1, pl.Int64), invoice_date=pl.lit(date(2026, 11, 2)), due_date=pl.lit(date(2026, 11, 16)),
                            terms_code=pl.lit("NET14"), currency=pl.lit("USD"),
                            amount=(total / 100 + pl.when(pl.col("sales_order_id") % 100 == 0).then(1).otherwise(0)).cast(pl.Decimal(18, 4)),
                            status=pl.lit("closed"), payment_status=pl.lit("unpaid"))
    with om.session() as con:
        con.begin()
        om.insert_missing(con, "terms", pl.DataFrame({"terms_code": ["NET14"], "description": ["Net 14"], "net_days": [14],
                                                       "tolerance": ["0.05"]}).with_columns(pl.col("tolerance").cast(pl.Decimal(18, 4))), ("terms_code",))
        known = pl.col("sales_order_id") % 200 != 1  # Amazon pays a few orders the OM does not have
        om.insert_missing(con, "sales_order", sales.filter(known), ("sales_order_id",))
        om.insert_missing(con, "invoice", invoices.filter(known), ("invoice_id",))
        con.commit()
    return frame.select("order_id", "cents")


def write_report(orders: pl.DataFrame, path: Path) -> int:
    """A US settlement file with LINES_PER_ORDER lines per order and a balancing summary row."""
    parts = []
    for amount_type, description, share in LINES_PER_ORDER:
        cents = (pl.col("cents") * int(share * 100)).cast(pl.Int64)
        parts.append(orders.select("order_id", amount_type=pl.lit(amount_type), description=pl.lit(description), cents=cents))
    lines = pl.concat(parts).sort("order_id")
    total = lines["cents"].sum()
    dollars = (pl.col("cents").abs() // 100).cast(pl.String)
    amount = pl.format("{}{}.{}", pl.when(pl.col("cents") < 0).then(pl.lit("-")).otherwise(pl.lit("")), dollars,
                       (pl.col("cents").abs() % 100).cast(pl.String).str.zfill(2))
    body = lines.select(pl.format("SETT1\t\t\t\t\t\tOrder\t{}\t\t\tDx1\tAmazon.com\t{}\t{}\t{}\tMFN\t11/20/26\t2026-11-20 08:00:00 UTC\t1234\t\t\tSKU-1\t1\t",
                                  "order_id", "amount_type", "description", amount))
    summary = (f"SETT1\t2026-11-06 00:00:00 UTC\t2026-11-20 00:00:00 UTC\t2026-11-22 00:00:00 UTC\t{total // 100:,}.{total % 100:02d}\tUSD"
               + "\t" * 18)
    path.write_text("\n".join([HEADER, summary]) + "\n" + "\n".join(body.to_series().to_list()) + "\n")
    return lines.height


def main() -> None:
    order_count = int(os.environ.get("OMSYNC_BENCH_SETTLEMENT_ORDERS", "200000"))

    with flow_bench() as bench:
        om = bench.om
        orders = om_with_invoices(om, order_count)
        report = bench.folder / "settlement.txt"
        line_count = write_report(orders, report)
        megabytes = report.stat().st_size / 1e6
        started = time.perf_counter()
        duckdb.connect().execute(f"CREATE TABLE lines AS SELECT * FROM read_csv('{report}', delim='\t', header=true)")
        baseline = time.perf_counter() - started
        env = bench.env("http://127.0.0.1:9")
        result = run_child(CHILD, env, str(report))
        counts = result["counts"]
    print(f"{line_count:,} settlement lines ({megabytes:.0f} MB) against {order_count:,} OM invoices (PostgreSQL)")
    print(f"settlement flow end to end: {result['seconds']:.1f} s (target 30 s); invoices paid {counts['invoices paid']:,}, "
          f"disputed {counts['invoices disputed']:,}, exceptions {counts['exceptions']:,}")
    print(f"DuckDB read_csv of the same file: {baseline:.2f} s; ratio {result['seconds'] / baseline:.1f}x (aim <= 5x)")
