"""`omsync om seed` at scale on PostgreSQL, against COPY FROM STDIN of the same inventory rows."""

import io
import os
import time

from benchmarks.postgres import postgres_url
from omsync.connectors.om import OmDatabase
from omsync.sandbox import om_demo_data


def main() -> None:
    items = int(os.environ.get("OMSYNC_BENCH_ITEMS", "1000000"))
    with postgres_url() as url:
        om = OmDatabase(url)
        om.init_schema()
        started = time.perf_counter()
        data = om_demo_data.generate(items, 5, 100_000, 7)
        generated = time.perf_counter() - started
        inserted = om_demo_data.load(om, data)
        total = time.perf_counter() - started
        rerun = om_demo_data.load(om, data)["seconds"]

        import psycopg

        buffer = io.BytesIO()
        data.inventory.with_columns(item_id=0, site_id=0).select("item_id", "site_id", "on_hand").write_csv(buffer, include_header=False)
        with psycopg.connect(url) as conn:
            conn.execute("CREATE UNLOGGED TABLE copy_floor (item_id BIGINT, site_id BIGINT, on_hand BIGINT)")
            started = time.perf_counter()
            with conn.cursor().copy("COPY copy_floor FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
            floor = time.perf_counter() - started
        rows = sum(v for k, v in inserted.items() if k != "seconds")
        print(f"items {items:,} × 5 sites: {rows:,} OM rows")
        print(f"generate {generated:.1f} s, load {inserted['seconds']:.1f} s, total {total:.1f} s; rerun (nothing new) {rerun:.1f} s")
        print(f"COPY of the {data.inventory.height:,} inventory rows alone (floor): {floor:.1f} s; seed total / floor = {total / floor:.1f}x")
