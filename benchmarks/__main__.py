"""Run every benchmark: python -m benchmarks [name …]."""

import os
import sys

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from benchmarks import (listing_flows, om_read, om_seed, orders, sandbox_feed, sandbox_http, settlement, shipments, trading_day,
                        warehouse_write)

ALL = {"inventory": lambda: listing_flows.main("inventory"), "prices": lambda: listing_flows.main("prices"), "orders": orders.main,
       "shipments": shipments.main, "settlement": settlement.main, "om_read": om_read.main, "om_seed": om_seed.main,
       "sandbox_http": sandbox_http.main, "sandbox_feed": sandbox_feed.main, "warehouse_write": warehouse_write.main,
       "trading_day": trading_day.main}

for name in sys.argv[1:] or list(ALL):
    print(f"== {name}", flush=True)
    ALL[name]()
