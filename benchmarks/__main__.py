"""Run every benchmark: python -m benchmarks [name …]."""

import sys

from benchmarks import om_read, om_seed, sandbox_feed, sandbox_http

ALL = {"om_read": om_read.main, "om_seed": om_seed.main, "sandbox_http": sandbox_http.main, "sandbox_feed": sandbox_feed.main}

for name in sys.argv[1:] or list(ALL):
    print(f"== {name}", flush=True)
    ALL[name]()
