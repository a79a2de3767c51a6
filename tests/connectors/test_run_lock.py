"""The run lease: one run of a flow at a time across processes and machines, on both catalogs."""

import subprocess
import sys
import textwrap
import time


import pytest

from omsync.connectors.run_lock import TABLE, RunInProgress, _Store, run_lease
from omsync.connectors.warehouse import Warehouse
from tests.connectors.test_warehouse import ENV, ROOT


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def lake(request, tmp_path) -> Warehouse:
    if request.param == "sqlite":
        return Warehouse(tmp_path / "warehouse.duckdb")
    return Warehouse(tmp_path / "warehouse.duckdb", request.getfixturevalue("pg_url"), str(tmp_path / "files"))


HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from omsync.connectors.run_lock import run_lease
    from omsync.connectors.warehouse import Warehouse
    with run_lease(Warehouse(Path(sys.argv[1]), sys.argv[2] or None, sys.argv[3] or None), "shipments"):
        print("held", flush=True)
        sys.stdin.readline()
    """
)


def holder_process(lake: Warehouse) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(lake.path), lake.catalog or "", lake.data or ""],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_run_waits_a_bounded_time_then_says_who_holds_it(lake):
    holder = holder_process(lake)
    try:
        started = time.monotonic()
        with pytest.raises(RunInProgress, match=r"another shipments run holds the lock \(process \d+ on .*, since .* UTC\)"):
            with run_lease(lake, "shipments", wait=0.5):
                pytest.fail("two holders at once")
        assert time.monotonic() - started >= 0.5
        with run_lease(lake, "orders", wait=0):  # another flow is not held up
            pass
    finally:
        holder.communicate("\n", timeout=30)
    with run_lease(lake, "shipments", wait=5):  # released at the end of the run
        pass


def test_a_killed_holder_on_this_host_is_noticed_at_once(lake):
    holder = holder_process(lake)
    holder.kill()
    holder.wait(30)
    with run_lease(lake, "shipments", wait=0, ttl=600):
        pass


def test_a_holder_on_another_machine_keeps_the_lease_until_it_expires(lake):
    store = _Store(lake)
    try:
        store.run(f"INSERT INTO {TABLE} VALUES ('shipments', 'machine-b:4242:1234:abc', {store.now}, {store.now} + 1.5)")
    finally:
        store.close()
    with pytest.raises(RunInProgress, match="process 4242 on machine-b"):
        with run_lease(lake, "shipments", wait=0):
            pass
    with run_lease(lake, "shipments", wait=5):  # machine b stopped renewing: expired after 1.5 s
        pass


def test_the_lease_is_renewed_while_the_run_lasts(lake):
    with run_lease(lake, "shipments", ttl=0.6):
        time.sleep(1.5)  # longer than the ttl: only the renewals keep it
        with pytest.raises(RunInProgress):
            with run_lease(lake, "shipments", wait=0):
                pass
