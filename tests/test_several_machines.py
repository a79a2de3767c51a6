"""Several machines, for real: a Prefect server on PostgreSQL, the `omsync` process work pool, prefect.yaml
deployed with `prefect deploy --all`, and two `prefect worker` processes as two machines (a working folder,
temp folder, PREFECT_HOME and local warehouse folder each), sharing only what README's "Several machines"
says they must: the OM (PostgreSQL), the DuckLake catalog (PostgreSQL) and data path, and Amazon (the sandbox)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import httpx
import psycopg
import pytest

from omsync.connectors.om import OmDatabase
from omsync.connectors.warehouse import Warehouse
from omsync.flows.registry import PROJECT
from omsync.prefect_server import is_up, stop
from omsync.sandbox import om_demo_data

pytestmark = pytest.mark.postgres

BIN = Path(sys.executable).parent
FLOWS = ("orders", "inventory")  # one each way (Amazon → OM, OM → Amazon): the topology is the point, not coverage
RUNS_DONE_SECONDS = 120


@dataclass
class Machine:
    name: str
    folder: Path
    env: dict[str, str]

    def prefect(self, *args: str, log: Path | None = None) -> subprocess.Popen:
        """A `prefect` command on this machine; its output piped, or (a long-lived worker) in `log`."""
        out = open(log, "w") if log else subprocess.PIPE
        try:
            return subprocess.Popen([str(BIN / "prefect"), *args], cwd=self.folder, env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, text=True, start_new_session=True)
        finally:
            if log:
                out.close()

    @property
    def worker_log(self) -> Path:
        return self.folder / "worker.log"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _done(process: subprocess.Popen, timeout: float = 90) -> str:
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out[-3000:]
    return out


@pytest.fixture
def databases(pg_cluster):
    """Three databases of the one cluster: the Prefect server's, the OM's and the DuckLake catalog's."""
    names = {role: f"{role}_{uuid.uuid4().hex[:8]}" for role in ("prefect", "om", "catalog")}
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as admin:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield {role: pg_cluster.url(name) for role, name in names.items()}
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as admin:
        for name in names.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def prefect_on_postgres(databases, tmp_path):
    """`prefect server start` with its database in PostgreSQL; its URL."""
    port = _free_port()
    home = tmp_path / "server"
    home.mkdir()
    env = {**_clean_environment(), "PREFECT_HOME": str(home), "TMPDIR": str(home),
           "PREFECT_API_DATABASE_CONNECTION_URL": databases["prefect"].replace("postgresql://", "postgresql+asyncpg://", 1),
           # runs start when the test says, not on the deployments' schedules
           "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
           # a run refused by concurrency_limit 1 asks again after 0.5 s, not the default 30 s
           "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "0.5",
           "PREFECT_UI_ENABLED": "false",  # nothing looks at it; the server starts faster without
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    log = open(home / "server.log", "w")
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90
        while not is_up(url):
            assert server.poll() is None, (home / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the Prefect server did not answer in 90 s"
            time.sleep(0.25)
        yield url
    finally:
        stop(server)
        log.close()


def _clean_environment() -> dict[str, str]:
    """This process's environment without any omsync, Amazon or Prefect setting (the session's own included)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OMSYNC_", "SP_API_", "LWA_", "PREFECT_"))}


def test_two_workers_on_two_machines_share_the_om_the_warehouse_and_amazon(databases, prefect_on_postgres, sandbox, tmp_path):
    om = OmDatabase(databases["om"])
    om.init_schema()
    om_demo_data.load(om, om_demo_data.generate(items=40, sites=2, customers=20, seed=7))
    skus = om.read("SELECT i.item_code FROM item i JOIN item_attribute a USING (item_id) "
                   "WHERE a.name = 'AmazonItem' AND a.value <> 'No' AND i.active ORDER BY 1 LIMIT 8")["item_code"].to_list()
    sandbox.admin("POST", "listings", {"listings": [{"sku": s, "productType": "PRODUCT", "quantity": 500, "price": "24.99"} for s in skus]})
    place_orders(sandbox, 20)

    shared_data = tmp_path / "shared-data"  # the one folder both machines mount (object storage in real life)
    shared = {
        "OMSYNC_OM_URL": databases["om"],
        "OMSYNC_WAREHOUSE_CATALOG": databases["catalog"],
        "OMSYNC_WAREHOUSE_DATA": str(shared_data),
        "OMSYNC_AMAZON_ENDPOINT": sandbox.url,
        "SP_API_REFRESH_TOKEN": "Atzr|several-machines",
        "LWA_APP_ID": "amzn1.application-oa2-client.several-machines",
        "LWA_CLIENT_SECRET": "several-machines-secret",
        "PREFECT_API_URL": prefect_on_postgres,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    machines = []
    for name in ("machine-a", "machine-b"):
        folder = tmp_path / name
        (folder / "tmp").mkdir(parents=True)
        machines.append(Machine(name, folder, {
            **_clean_environment(), **shared, "PREFECT_HOME": str(folder / "prefect-home"), "TMPDIR": str(folder / "tmp"),
            "OMSYNC_WAREHOUSE": str(folder / "data" / "warehouse.duckdb"),
            "PREFECT_WORKER_QUERY_SECONDS": "1",  # polls the pool every second, not every 10
        }))
    a, b = machines

    _done(a.prefect("work-pool", "create", "omsync", "--type", "process"))
    # One run at a time per worker: while an orders run and an inventory run go on at once, each is on
    # a machine of its own, so both machines run flows. They start while the deployments are made.
    workers = [m.prefect("worker", "start", "--pool", "omsync", "--name", m.name, "--limit", "1", log=m.worker_log) for m in machines]
    try:
        deploy = subprocess.run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], cwd=PROJECT, env=a.env,
                                capture_output=True, text=True, timeout=120)
        assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
        # each deployment from both machines; two inventory runs asked for at once, the second orders
        # run while the first is still going, after more buyers ordered
        first = trigger([(a, "orders"), (a, "inventory"), (b, "inventory")])
        place_orders(sandbox, 15)
        second = trigger([(b, "orders")])
        runs = wait_until_final(prefect_on_postgres, first | second)
        # a worker reports which run it executed just after the run ends: asked before it is stopped
        ran_on = executed_by(prefect_on_postgres, set(runs))
    finally:
        for worker in workers:
            stop(worker)

    unfinished = {run_id: state for run_id, (_, state) in runs.items() if state != "COMPLETED"}
    assert not unfinished, (unfinished, error_logs(prefect_on_postgres, set(unfinished)))
    assert set(ran_on) == set(runs), (f"runs no worker executed: {set(runs) - set(ran_on)}",
                                      *(m.worker_log.read_text()[-2000:] for m in machines))
    assert set(ran_on.values()) == {"machine-a", "machine-b"}, Counter(ran_on.values())

    warehouse = Warehouse(tmp_path / "reader" / "warehouse.duckdb", databases["catalog"], str(shared_data))
    with warehouse.read() as con:
        records = con.execute("SELECT prefect_run_id, flow, outcome, started, finished FROM ops.runs").fetchall()
    by_prefect_id = {r[0]: r for r in records}
    assert set(by_prefect_id) == set(runs), "the warehouse holds every run's record, and no other"
    for run_id, (flow, _) in runs.items():
        assert by_prefect_id[run_id][1] == flow and by_prefect_id[run_id][2] in ("OK", "OK_WITH_PROBLEMS"), by_prefect_id[run_id]
    for flow in FLOWS:
        intervals = [(r[3], r[4]) for r in records if r[1] == flow]
        for (start1, end1), (start2, end2) in combinations(intervals, 2):
            assert end1 <= start2 or end2 <= start1, f"two {flow} runs overlapped: {(start1, end1)} and {(start2, end2)}"

    at_amazon = sandbox.admin("GET", "orders")["orders"]
    released = {o["orderId"] for o in at_amazon if o["status"] not in ("PENDING", "CANCELLED")}
    in_om = om.read("SELECT external_order_id FROM sales_order")["external_order_id"].to_list()
    assert len(in_om) == len(set(in_om)), "an order imported twice"
    # an order the buyer cancelled after its import stays in the OM (cancelled there): in, but not released
    assert released <= set(in_om) <= {o["orderId"] for o in at_amazon}, "every released order of both batches is in the OM"
    with warehouse.read() as con:
        sent = con.execute("SELECT count(DISTINCT sku) FROM ops.listing_state WHERE attribute = 'quantity'").fetchone()[0]
    assert sent > 0, "the inventory runs sent quantities"


def place_orders(sandbox, count: int) -> None:
    sandbox.admin("POST", "orders", {"count": count, "release": True})
    sandbox.admin("POST", "clock/advance", {"seconds": 300})


def trigger(requests: list[tuple[Machine, str]]) -> dict[str, str]:
    """`prefect deployment run FLOW/FLOW` on each machine, all at once; run id → flow."""
    started = [(flow, m.prefect("deployment", "run", f"{flow}/{flow}")) for m, flow in requests]
    runs = {}
    for flow, process in started:
        [run_id] = re.findall(r"UUID: ([0-9a-f-]{36})", _done(process))
        runs[run_id] = flow
    return runs


def wait_until_final(api: str, runs: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Each run's flow and final state type, once every run has one (or the deadline passed)."""
    deadline = time.monotonic() + RUNS_DONE_SECONDS
    with httpx.Client(base_url=api, trust_env=False, timeout=30) as client:
        while True:
            found = client.post("/flow_runs/filter", json={"flow_runs": {"id": {"any_": list(runs)}}}).raise_for_status().json()
            states = {r["id"]: r["state_type"] for r in found}
            if all(states.get(run_id) in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for run_id in runs) \
                    or time.monotonic() > deadline:
                return {run_id: (flow, states.get(run_id)) for run_id, flow in runs.items()}
            time.sleep(0.5)


def error_logs(api: str, run_ids: set[str]) -> list[str]:
    """What the runs logged at WARNING and above: why a run did not complete."""
    with httpx.Client(base_url=api, trust_env=False, timeout=30) as client:
        logs = client.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": list(run_ids)}, "level": {"ge_": 30}},
                                                 "limit": 50}).raise_for_status().json()
    return [f"{log['flow_run_id']}: {log['message'][-1500:]}" for log in logs]


def executed_by(api: str, run_ids: set[str]) -> dict[str, str]:
    """Run id → the worker that executed it, from the workers' `executed-flow-run` events (they reach the
    server's event store a moment after the run ends, hence the wait)."""
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=api, trust_env=False, timeout=30) as client:
        while True:
            page = client.post("/events/filter", json={"filter": {"event": {"name": ["prefect.worker.executed-flow-run"]}},
                                                       "limit": 50}).raise_for_status().json()
            ran_on = {}
            for event in page["events"]:
                worker = event["resource"]["prefect.resource.name"]
                for related in event["related"]:
                    if related["prefect.resource.role"] == "flow-run":
                        ran_on[related["prefect.resource.id"].removeprefix("prefect.flow-run.")] = worker
            if run_ids <= set(ran_on) or time.monotonic() > deadline:
                return {run_id: worker for run_id, worker in ran_on.items() if run_id in run_ids}
            time.sleep(0.5)


NEW_CATALOG_RACE = """
import pathlib, sys, time
from omsync.connectors.run_lock import run_lease
from omsync.connectors.warehouse import Warehouse
folder, catalog, data, go, flow = sys.argv[1:]
warehouse = Warehouse(pathlib.Path(folder) / "warehouse.duckdb", catalog, data)
pathlib.Path(folder).mkdir()  # ready: omsync imported
while not pathlib.Path(go).exists():
    time.sleep(0.002)
warehouse.init()
with run_lease(warehouse, flow):
    pass
"""


def test_machines_whose_first_runs_start_at_once_on_a_new_catalog_all_open_it(databases, tmp_path):
    """Each creates the catalog's tables and the lease table at the same moment; PostgreSQL refuses all
    but one CREATE, and the others must find the tables made (before the fix, most runs failed here)."""
    go = tmp_path / "go"
    machines = [subprocess.Popen([sys.executable, "-c", NEW_CATALOG_RACE, str(tmp_path / f"machine-{n}"), databases["catalog"],
                                  str(tmp_path / "shared-data"), str(go), flow],
                                 env=_clean_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for n, flow in enumerate(("orders", "inventory", "prices"))]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"machine-{n}").exists() for n in range(len(machines))):
            assert time.monotonic() < deadline and all(m.poll() is None for m in machines)
            time.sleep(0.01)
        go.touch()  # all three at once
        for machine in machines:
            assert _done(machine, timeout=60) == ""
    finally:
        for machine in machines:
            stop(machine)
