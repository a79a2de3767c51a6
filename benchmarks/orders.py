"""The orders flow at 100,000 orders / ~250,000 lines into PostgreSQL, with the sandbox's usage plans
off (our side only), and how many Amazon calls it needed per 1,000 orders against a per-order design."""

import os
import time

import httpx

from benchmarks.flow_runs import flow_bench, run_child
from omsync.sandbox import om_demo_data
from omsync.sandbox.process import start_sandbox

CHILD = """
import json, time
from benchmarks.flow_runs import peak_mb
from omsync.flows.orders import orders
from omsync.flows.resources import Resources
from omsync.core.settings import Settings
started = time.perf_counter()
counts = orders(initial_days=3, resources=Resources(Settings.from_env()))
print("OMSYNC-BENCH " + json.dumps({"seconds": time.perf_counter() - started, "counts": counts,
                                    "peak_mb": peak_mb()}))
"""


def main() -> None:
    count = int(os.environ.get("OMSYNC_BENCH_ORDERS", "100000"))

    with flow_bench() as bench:
        om = bench.om
        data = om_demo_data.generate(5000, 3, 20000, 5)
        om_demo_data.load(om, data)
        sandbox = start_sandbox("--time-scale", "1000", "--no-usage-plans")
        try:
            skus = data.items["item_code"].head(2000).to_list()
            with httpx.Client(base_url=f"{sandbox.url}/_sandbox", trust_env=False, timeout=600) as admin:
                admin.post("/listings", json={"listings": [{"sku": s, "productType": "PRODUCT", "quantity": 99_999, "price": "19.99"} for s in skus]}).raise_for_status()
                placed = time.perf_counter()
                for _ in range(count // 10_000):
                    admin.post("/orders", json={"count": 10_000, "basketSizes": [1, 2, 3, 4]}).raise_for_status()  # 2.5 lines per order
                admin.post("/clock/advance", json={"seconds": 7200}).raise_for_status()  # every order leaves PENDING
                # Then real time, a little later: searchOrders stops 2 minutes before now, and no order
                # may change (Amazon ships its own) while the flow reads, so the flow sees all of them.
                admin.post("/clock", json={"timeScale": 1}).raise_for_status()
                admin.post("/clock/advance", json={"seconds": 180}).raise_for_status()
                placed = time.perf_counter() - placed
                lines = sum(len(o["lines"]) for o in admin.get("/orders").json()["orders"])
            env = bench.env(sandbox.url)
            started = time.perf_counter()
            result = run_child(CHILD, env)
            wall = time.perf_counter() - started
            calls = httpx.get(f"{sandbox.url}/_sandbox/calls", trust_env=False).json()["calls"]
        finally:
            sandbox.stop()
    counts = result["counts"]
    amazon_calls = calls.get("searchOrders", 0) + calls.get("getOrder", 0)
    per_thousand = 1000 * amazon_calls / counts["orders seen"]
    print(f"sandbox: {count:,} orders with {lines:,} lines placed in {placed:.1f} s; usage plans off")
    print(f"orders flow: {counts['orders seen']:,} orders seen, {counts['new in OM']:,} created with {counts['lines']:,} lines and "
          f"{counts['holds']:,} holds, {counts['customers created']:,} customers: {result['seconds']:.1f} s in the flow "
          f"({wall:.1f} s wall with process start), peak {result['peak_mb']:,.0f} MB")
    print(f"Amazon calls: {amazon_calls:,} ({per_thousand:.1f} per 1,000 orders); a getOrder-per-order design needs "
          f"{1000 + 1000 * calls.get('searchOrders', 0) / counts['orders seen']:.0f} per 1,000 (v0 getOrders + getOrderItems: 1,010)")
