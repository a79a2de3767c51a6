"""Flow runs for benchmarks: each in its own process (its peak memory is its own), reporting to the
benchmark's Prefect API as under `omsync serve`, against a given OM, warehouse and sandbox."""

import json
import subprocess
import sys
from pathlib import Path

MARKER = "OMSYNC-BENCH "


def flow_env(base: dict, om_url: str, warehouse: Path, sandbox_url: str, prefect_api: str) -> dict:
    return {**base, "PREFECT_API_URL": prefect_api, "OMSYNC_OM_URL": om_url, "OMSYNC_WAREHOUSE": str(warehouse),
            "OMSYNC_AMAZON_ENDPOINT": sandbox_url, "SP_API_REFRESH_TOKEN": "Atzr|bench", "LWA_APP_ID": "bench",
            "LWA_CLIENT_SECRET": "bench", "PYTHONPATH": str(Path(__file__).parents[1])}


def run_child(code: str, env: dict, *args: str) -> dict:
    """Run `code` in a new interpreter; it prints its result as one JSON line behind MARKER."""
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    [line] = [l for l in done.stdout.splitlines() if l.startswith(MARKER)]
    return json.loads(line.removeprefix(MARKER))
