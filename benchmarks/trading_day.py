"""A simulated trading day at the default order rate (`omsync simulate`'s defaults: 24 hours, 130 orders an
hour, over 3,000 orders), its scorecard printed and written with its charts, and the wall time it took.

OMSYNC_BENCH_HOURS shortens the day (to measure a part of it and extrapolate); OMSYNC_BENCH_OUT keeps the card
somewhere else than data/bench-trading-day."""

import os
import subprocess
import time
from pathlib import Path

from rich.console import Console

from omsync.simulate import Day, simulate

PROJECT = Path(__file__).resolve().parents[1]


def main() -> None:
    hours = float(os.environ.get("OMSYNC_BENCH_HOURS", "24"))
    out = Path(os.environ.get("OMSYNC_BENCH_OUT", PROJECT / "data" / "bench-trading-day"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True).stdout.strip()
    from prefect.testing.utilities import prefect_test_harness

    # its own Prefect API, as the other flow benchmarks: the runs are real flow runs, recorded by a server
    with prefect_test_harness(server_startup_timeout=90):
        started = time.perf_counter()
        card = simulate(Day(hours=hours), out, Console())
        wall = time.perf_counter() - started
    print(f"seed {card['period']['seed']}, {hours:g} simulated h at {card['period']['orders_per_hour']:g} orders/h: "
          f"{card['period']['amazon_orders']:,} orders; commit {commit}, {os.cpu_count()} cores")
    print(f"wall {wall:.0f} s ({wall / 60:.1f} min; the day itself {card['wall_seconds']:.0f} s); card and charts in {out}")
