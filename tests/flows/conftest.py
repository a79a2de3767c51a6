"""Flow tests: a real OM (SQLite or PostgreSQL), the sandbox over HTTP, a fresh warehouse, Prefect."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from omsync.connectors.om import OmDatabase
from omsync.connectors.warehouse import Warehouse
from omsync.flows.resources import Resources
from omsync.core.settings import Settings
from omsync.sandbox import om_demo_data
from omsync.sandbox.process import Sandbox


@dataclass
class FlowWorld:
    om: OmDatabase
    warehouse: Warehouse
    sandbox: Sandbox
    env: dict[str, str]  # the same configuration as variables, for `omsync run` in a child process
    resources: Resources

    def state(self) -> pl.DataFrame:
        with self.warehouse.read() as con:
            return con.execute("SELECT * FROM ops.listing_state_wide ORDER BY sku").pl()

    def listings(self) -> dict[str, dict]:
        return {l["sku"]: l for l in self.sandbox.admin("GET", "listings")["listings"]}

    def om_execute(self, sql_for_table, params):
        """One write statement on an OM table, e.g. lambda t: f"UPDATE {t('inventory')} SET …"."""
        with self.om.session() as con:
            con.execute(sql_for_table(self.om.table_ref), params)

    def kill_when(self, flow: str, prefect_api: str, condition: Callable[[], bool]) -> None:
        """`omsync run <flow>` as a real process, SIGKILLed as soon as `condition()` holds."""
        env = {**os.environ, **self.env, "PREFECT_API_URL": prefect_api}
        child = subprocess.Popen([str(Path(sys.executable).with_name("omsync")), "run", flow], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        try:
            while not condition():
                assert child.poll() is None and time.monotonic() < deadline
                time.sleep(0.02)
        finally:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(30)

    def committed(self, schema: str, name: str) -> bool:
        """Whether a committed snapshot created this table or view. Read from the SQLite catalog itself, in
        a millisecond (attaching the lake takes a large part of a second under load): a kill test must
        take the catalog's lock before the flow's next write, not after it."""
        try:
            with closing(sqlite3.connect(f"file:{self.warehouse.catalog_path}?mode=ro", uri=True)) as catalog:
                return catalog.execute("SELECT count(*) FROM ducklake_snapshot_changes WHERE changes_made LIKE ?",
                                       [f'%"{schema}"."{name}"%']).fetchone()[0] > 0
        except sqlite3.OperationalError:  # no catalog yet, or not its tables yet
            return False

    def kill_between_om_commit_and_record(self, flow: str, prefect_api: str, started: Callable[[], bool],
                                          committed: Callable[[], bool]) -> None:
        """`omsync run <flow>` as a real process: once `started()`, hold the write lock of the warehouse's
        SQLite catalog so that the flow can commit to the OM but not record it (its warehouse commits
        fail and are retried); once `committed()`, SIGKILL it."""
        env = {**os.environ, **self.env, "PREFECT_API_URL": prefect_api}
        child = subprocess.Popen([str(Path(sys.executable).with_name("omsync")), "run", flow], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120

        def wait_for(condition: Callable[[], bool], pause: float) -> None:
            while not condition():
                assert child.poll() is None and time.monotonic() < deadline
                time.sleep(pause)

        wait_for(started, 0.01)
        catalog = sqlite3.connect(self.warehouse.catalog_path, timeout=30, isolation_level=None)
        try:
            catalog.execute("BEGIN EXCLUSIVE")
            wait_for(committed, 0.05)
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(30)
        finally:
            catalog.close()


@pytest.fixture
def world(om_url, sandbox, tmp_path: Path, prefect_server) -> Iterator[FlowWorld]:
    om = OmDatabase(om_url)
    om.init_schema()
    om_demo_data.load(om, om_demo_data.generate(items=400, sites=3, customers=50, seed=3))
    variables = {
        "OMSYNC_OM_URL": om_url,
        "OMSYNC_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "OMSYNC_AMAZON_ENDPOINT": sandbox.url,
        "SP_API_REFRESH_TOKEN": "Atzr|flow-tests",
        "LWA_APP_ID": "amzn1.application-oa2-client.flow-tests",
        "LWA_CLIENT_SECRET": "flow-tests-secret",
    }
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with Resources(Settings.from_env(variables), om, warehouse) as resources:
        yield FlowWorld(om, warehouse, sandbox, variables, resources)


def artifacts_of_latest_run(key: str) -> list:
    """The artifacts Prefect holds under a key, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC)


def latest_progress() -> tuple[str, float]:
    """The newest progress artifact: its description and how far it got."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterType
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(type=ArtifactFilterType(any_=["progress"])),
                                           sort=ArtifactSort.CREATED_DESC, limit=1)
    return artifact.description, float(artifact.data)
