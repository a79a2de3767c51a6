"""One run of a flow at a time outside Prefect's own limits (`omsync run` twice, cron, two workers),
and killed runs marked CRASHED by the next run: real processes on both OM databases."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from omsync.flows.shipments import shipments
from omsync.sandbox.om_simulator import ship_orders
from tests.flows.test_shipments import imported_orders


def omsync_run(world, prefect_server, flow: str) -> subprocess.Popen:
    env = {**os.environ, **world.env, "PREFECT_API_URL": prefect_server}
    return subprocess.Popen([str(Path(sys.executable).with_name("omsync")), "run", flow], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def confirmations(world) -> int:
    return sum(c["status"] == 204 for c in world.sandbox.admin("GET", "confirmations")["confirmations"])


def test_two_shipments_runs_at_once_send_each_confirmation_once(world, prefect_server):
    imported_orders(world, count=20)
    shipped = ship_orders(world.om, share=1.0).filter(pl.col("tracking_no").is_not_null())
    runs = [omsync_run(world, prefect_server, "shipments") for _ in range(2)]
    results = [run.communicate(timeout=240) for run in runs]
    for run, (_, err) in zip(runs, results):
        # the second either waited for the first (and found nothing left to send) or gave up with one line
        assert run.returncode == 0 or (run.returncode == 2 and err.strip().splitlines()[-1].startswith(
            "error: another shipments run holds the lock")), err[-2000:]
    assert confirmations(world) == shipped.height, "every package confirmed once, none twice"
    with world.warehouse.read() as con:
        outcomes = con.execute("SELECT list(outcome ORDER BY outcome) FROM ops.runs WHERE flow = 'shipments'").fetchone()[0]
    assert "OK" in outcomes and "RUNNING" not in outcomes


# SQLite only: the lease and ops.runs live in the warehouse: the OM's database changes nothing here.
@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_killed_run_is_marked_crashed_by_the_next_run(world, prefect_server):
    imported_orders(world, count=5)
    ship_orders(world.om, share=1.0)
    child = omsync_run(world, prefect_server, "shipments")
    try:
        deadline = time.monotonic() + 120
        while not world.warehouse.catalog_path.exists() or not _running(world):
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(30)
    [killed] = _running(world)
    started = time.monotonic()
    shipments(resources=world.resources)
    assert time.monotonic() - started < 60, "the dead run's lease is taken at once, not after its expiry"
    with world.warehouse.read() as con:
        rows = con.execute("SELECT run_id, outcome, message FROM ops.runs WHERE flow = 'shipments' ORDER BY started").fetchall()
    assert [(run_id, outcome) for run_id, outcome, _ in rows][0] == (killed, "CRASHED")
    assert rows[0][2].startswith("stopped without finishing; noticed at 20") and rows[1][1] == "OK"


def _running(world) -> list[str]:
    with world.warehouse.read() as con:
        return [r[0] for r in con.execute("SELECT run_id FROM ops.runs WHERE outcome = 'RUNNING'").fetchall()]
