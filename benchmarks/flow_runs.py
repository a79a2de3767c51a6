"""Flow runs for benchmarks: each in its own process (its peak memory is its own), reporting to the
benchmark's Prefect API as under `omsync serve`, against a given OM, warehouse and sandbox."""

import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from benchmarks.postgres import postgres_url
from omsync.connectors.om import OmDatabase

MARKER = "OMSYNC-BENCH "


@dataclass(frozen=True)
class FlowBench:
    url: str
    om: OmDatabase
    folder: Path
    prefect_api: str

    def env(self, sandbox_url: str) -> dict:
        """The environment of a flow run: this OM, a warehouse in the scratch folder, the sandbox, the Prefect API."""
        return {**os.environ, "PREFECT_API_URL": self.prefect_api, "OMSYNC_OM_URL": self.url,
                "OMSYNC_WAREHOUSE": str(self.folder / "warehouse.duckdb"), "OMSYNC_AMAZON_ENDPOINT": sandbox_url,
                "SP_API_REFRESH_TOKEN": "Atzr|bench", "LWA_APP_ID": "bench", "LWA_CLIENT_SECRET": "bench",
                "PYTHONPATH": str(Path(__file__).parents[1])}


@contextmanager
def flow_bench() -> Iterator[FlowBench]:
    """A PostgreSQL OM with the contract schema, a Prefect API and a scratch folder for one benchmark."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with postgres_url() as url, prefect_test_harness(server_startup_timeout=90), tempfile.TemporaryDirectory() as folder:
        om = OmDatabase(url)
        om.init_schema()
        yield FlowBench(url, om, Path(folder), PREFECT_API_URL.value())


def peak_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: after fork and exec it reports at least the
    parent's size at the fork (measured: 811 MB for a child of an 800 MB parent)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def run_child(code: str, env: dict, *args: str) -> dict:
    """Run `code` in a new interpreter; it prints its result as one JSON line behind MARKER."""
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    [line] = [l for l in done.stdout.splitlines() if l.startswith(MARKER)]
    return json.loads(line.removeprefix(MARKER))
