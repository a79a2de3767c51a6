"""How fast the OM's inventory can be read into Arrow, by route, against a bare COPY TO STDOUT.

This decides the OM connector: DuckDB attaching the OM through its scanner (one code path for
SQLite and PostgreSQL) against ADBC (PostgreSQL's binary protocol straight into Arrow).
"""

import os
import time

import polars as pl

from benchmarks.postgres import postgres_url
from omsync.connectors.om import OmDatabase
from omsync.sandbox import om_demo_data


def _timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        rows = fn()
        best = min(best, time.perf_counter() - started)
    return best, rows


def main() -> None:
    items = int(os.environ.get("OMSYNC_BENCH_ITEMS", "400000"))
    with postgres_url() as url:
        om = OmDatabase(url)
        om.init_schema()
        om_demo_data.load(om, om_demo_data.generate(items, 5, 1000, 1))
        import adbc_driver_postgresql.dbapi as adbc
        import psycopg

        def copy_floor():
            size = 0
            with psycopg.connect(url) as conn, conn.cursor().copy("COPY inventory TO STDOUT (FORMAT binary)") as copy:
                for chunk in copy:
                    size += len(chunk)
            return size

        def via_adbc():
            with adbc.connect(url) as conn, conn.cursor() as cur:
                cur.execute("SELECT item_id, site_id, on_hand FROM inventory")
                return pl.from_arrow(cur.fetch_arrow_table()).height

        def via_duckdb():
            with om.session(read_only=True) as con:
                return con.execute("SELECT item_id, site_id, on_hand FROM inventory").pl().height

        floor, _ = _timed(copy_floor)
        adbc_s, n1 = _timed(via_adbc)
        duck_s, n2 = _timed(via_duckdb)
        assert n1 == n2 == items * 5
        print(f"inventory rows: {n1:,}")
        print(f"COPY TO STDOUT (floor)   {floor:6.2f} s   1.00x")
        print(f"ADBC → Arrow → Polars    {adbc_s:6.2f} s   {adbc_s / floor:.2f}x")
        print(f"DuckDB scanner → Polars  {duck_s:6.2f} s   {duck_s / floor:.2f}x")
