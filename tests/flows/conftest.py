"""Flow tests: a real OM (SQLite or PostgreSQL), the sandbox over HTTP, a fresh warehouse, Prefect."""

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from connectors.om import OmDatabase
from connectors.warehouse import Warehouse
from sandbox import om_demo_data
from sandbox.process import Sandbox


@dataclass
class FlowWorld:
    om: OmDatabase
    warehouse: Warehouse
    sandbox: Sandbox
    env: dict[str, str]

    def state(self) -> pl.DataFrame:
        with self.warehouse.read() as con:
            return con.execute("SELECT * FROM ops.listing_state_wide ORDER BY sku").pl()

    def listings(self) -> dict[str, dict]:
        return {l["sku"]: l for l in self.sandbox.admin("GET", "listings")["listings"]}

    def om_execute(self, sql_for_table, params):
        """One write statement on an OM table, e.g. lambda t: f"UPDATE {t('inventory')} SET …"."""
        with self.om.session() as con:
            con.execute(sql_for_table(self.om.table_ref), params)

    def kill_between_om_commit_and_record(self, flow: str, prefect_api: str, started: Callable[[], bool],
                                          committed: Callable[[], bool]) -> None:
        """`omsync run <flow>` as a real process: once `started()`, hold the warehouse lock so that the
        flow can commit to the OM but not record it; once `committed()`, SIGKILL it."""
        env = {**os.environ, **self.env, "PREFECT_API_URL": prefect_api}
        child = subprocess.Popen([str(Path(sys.executable).with_name("omsync")), "run", flow], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120

        def wait_for(condition: Callable[[], bool], pause: float) -> None:
            while not condition():
                assert child.poll() is None and time.monotonic() < deadline
                time.sleep(pause)

        with open(self.warehouse.lock_path, "a+") as lock:
            try:
                wait_for(started, 0.01)
                fcntl.flock(lock, fcntl.LOCK_EX)
                wait_for(committed, 0.05)
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(30)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def world(om_url, sandbox, tmp_path: Path, monkeypatch, prefect_server) -> FlowWorld:
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
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return FlowWorld(om, Warehouse(tmp_path / "warehouse.duckdb"), sandbox, variables)


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
