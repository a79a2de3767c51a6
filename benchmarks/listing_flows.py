"""The inventory and prices flows at 1,000,000 SKUs × 5 sites (PostgreSQL), against a bare COPY TO
STDOUT of the OM tables each reads. Each run is a real Prefect flow run in its own process (peak
memory is that process's), reporting to one Prefect API as under `omsync serve`."""

import os
import time

from benchmarks.flow_runs import flow_bench, run_child
from sandbox import om_demo_data
from sandbox.process import start_sandbox

CHILD = """
import json, sys, time
started = time.perf_counter()
from flows.registry import FLOWS
imported = time.perf_counter()
counts = FLOWS[sys.argv[3]](feed_wait_seconds=float(sys.argv[1]), full=sys.argv[2] == "full")
done = time.perf_counter()
from benchmarks.flow_runs import peak_mb
print("OMSYNC-BENCH " + json.dumps({"flow_seconds": done - imported, "import_seconds": imported - started,
                  "peak_mb": peak_mb(), "counts": counts}))
"""
OM_TABLES = {"inventory": ["item", "item_attribute", "inventory", "inventory_hold", "site"], "prices": ["item", "item_attribute"]}


def _copy_floor(url: str, tables: list[str]) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        for table in tables:
            with conn.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                for _ in copy:
                    pass
    return time.perf_counter() - started


def main(flow: str) -> None:
    items = int(os.environ.get("OMSYNC_BENCH_ITEMS", "1000000"))

    with flow_bench() as bench:
        om, url = bench.om, bench.url
        om_demo_data.load(om, om_demo_data.generate(items, 5, 1000, 11))
        # Real time while the full run uploads: Amazon would process the feeds on its own machines,
        # not on our two cores. Then 100,000× so the next run finds every verdict ready.
        sandbox = start_sandbox("--time-scale", "1", "--no-usage-plans")
        try:
            sandbox.publish_catalog(om)
            env = bench.env(sandbox.url)
            floor = _copy_floor(url, OM_TABLES[flow])
            full = run_child(CHILD, env, "0", "delta", flow)  # submit and return: verdicts are collected by the next run
            sandbox.admin("POST", "clock", {"timeScale": 100_000})
            collect = run_child(CHILD, env, "600", "delta", flow)
            rerun = run_child(CHILD, env, "600", "delta", flow)
        finally:
            sandbox.stop()
    sent = full["counts"]["messages sent"]
    print(f"{flow}: OM of {items:,} items × 5 sites; COPY TO STDOUT of {', '.join(OM_TABLES[flow])} (floor): {floor:.2f} s")
    print("(sandbox usage plans off; its clock at real time during the full run, so its feed processing does not share our cores)")
    print(f"full run, {sent:,} messages in {full['counts']['feeds']} feeds uploaded and submitted: "
          f"{full['flow_seconds']:.1f} s ({full['flow_seconds'] / floor:.1f}x floor), peak {full['peak_mb']:,.0f} MB")
    print(f"next run collecting the remaining verdicts ({collect['counts'].get('verdict ACCEPTED', 0):,} accepted), sending "
          f"{collect['counts']['messages sent']:,}: {collect['flow_seconds']:.1f} s, peak {collect['peak_mb']:,.0f} MB")
    print(f"rerun with nothing changed, sending {rerun['counts']['messages sent']:,}: {rerun['flow_seconds']:.1f} s "
          f"({rerun['flow_seconds'] / floor:.1f}x floor), peak {rerun['peak_mb']:,.0f} MB")
    print(f"(each process also spent ~{rerun['import_seconds']:.1f} s importing Prefect and omsync)")
