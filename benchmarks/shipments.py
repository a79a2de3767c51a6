"""The shipments flow at 10,000 shipping orders against the sandbox's real confirmShipment plan
(2 calls/s, burst 10, time-scaled): the call rate achieved as a share of the plan — measured in
Amazon's (simulated) time — and the OM write time."""

import os

import httpx
import polars as pl

from benchmarks.flow_runs import flow_bench, run_child
from omsync.sandbox import om_demo_data
from omsync.sandbox.clock import parse_iso
from omsync.sandbox.om_simulator import ship_orders
from omsync.sandbox.process import start_sandbox

CHILD = """
import json, sys, time
from omsync.flows.registry import FLOWS
from omsync.flows.resources import Resources
from omsync.core.settings import Settings
started = time.perf_counter()
counts = FLOWS[sys.argv[1]](resources=Resources(Settings.from_env()))
print("OMSYNC-BENCH " + json.dumps({"seconds": time.perf_counter() - started, "counts": counts}))
"""
PLAN_RATE = 2.0


def main() -> None:
    count = int(os.environ.get("OMSYNC_BENCH_SHIPMENTS", "10000"))
    scale = float(os.environ.get("OMSYNC_BENCH_TIME_SCALE", "50"))

    with flow_bench() as bench:
        om = bench.om
        data = om_demo_data.generate(3000, 3, 5000, 5)
        om_demo_data.load(om, data)
        sandbox = start_sandbox("--time-scale", str(scale))
        try:
            admin = httpx.Client(base_url=f"{sandbox.url}/_sandbox", trust_env=False, timeout=600)
            skus = data.items["item_code"].head(1000).to_list()
            admin.post("/listings", json={"listings": [{"sku": s, "productType": "PRODUCT", "quantity": 99_999, "price": "9.99"} for s in skus]})
            admin.post("/orders", json={"count": int(count * 1.03), "fulfilledBy": "MERCHANT", "release": True})
            admin.post("/clock/advance", json={"seconds": 300})
            env = bench.env(sandbox.url)
            run_child(CHILD, env, "orders")
            shipped = ship_orders(om, share=1.0, whole=True).filter(pl.col("tracking_no").is_not_null())
            result = run_child(CHILD, env, "shipments")
            confirmations = [c for c in admin.get("/confirmations").json()["confirmations"] if c["status"] == 204]
        finally:
            sandbox.stop()
    moments = sorted(parse_iso(c["at"]) for c in confirmations)
    span = (moments[-1] - moments[0]).total_seconds()
    achieved = (len(moments) - 10) / span if span else float("inf")  # the first ten ride the burst
    counts = result["counts"]
    print(f"{shipped.height:,} shipping orders; sandbox --time-scale {scale:g}: the plan allows {PLAN_RATE:g} calls per Amazon second")
    print(f"confirmed {counts.get('Amazon confirmed', 0):,} in {span:,.0f} Amazon seconds ({span / scale:.1f} s real): "
          f"{achieved:.2f} calls/s = {achieved / PLAN_RATE:.2f} of the plan")
    print(f"OM write (close shipping orders, lines, holds, invoices): {counts['OM write ms'] / 1000:.2f} s; "
          f"flow {result['seconds']:.1f} s; {counts.get('invoices closed', 0):,} invoices closed")
