"""The newcomer's first minutes, for real: `omsync demo` from nothing (twice), its runs and
artifacts in the Prefect UI in headless Chromium, and `omsync serve` with Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from omsync.connectors.om import OmDatabase
from omsync import prefect_server
from tests.browser import Browser, find_chromium
from tests.conftest import IN_CI

OMSYNC = str(Path(sys.executable).with_name("omsync"))
SCREENSHOTS = Path(__file__).parents[1] / "test-output" / "ui"


def clean_env(home: Path) -> dict[str, str]:
    """No omsync or Amazon settings, a Prefect of its own: what a newcomer has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMSYNC_", "SP_API_", "LWA_", "PREFECT_"))}
    return env | {"PREFECT_HOME": str(home / ".prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "160"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium() -> str:
    found = find_chromium()
    if not found:
        if IN_CI:
            pytest.fail("CI=true needs Chromium: apt-get install chromium (.ci/run does)")
        pytest.skip("no chromium here (apt-get install chromium)")
    return found


def test_demo_twice_then_the_ui_shows_its_runs_and_artifacts(tmp_path, monkeypatch):
    browser_path = chromium()
    env = clean_env(tmp_path)
    om = OmDatabase(f"sqlite:///{tmp_path / 'data' / 'om.sqlite'}")
    paying = []  # after each demo: the settlements that paid OM invoices
    for attempt in (1, 2):
        started = time.monotonic()
        done = subprocess.run([OMSYNC, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "Done in" in done.stdout and "omsync serve" in done.stdout
        assert any(line.startswith("✓ prices: OM AmazonPrice → Amazon (") and line.endswith(" s")
                   for line in done.stdout.splitlines()), "piped: one plain line per step, never wrapped"
        print(f"demo run {attempt}: {time.monotonic() - started:.0f} s")
        paying.append(set(om.read("SELECT DISTINCT settlement_id FROM invoice_payment")["settlement_id"]))
    paid = om.read("SELECT count(*) AS n FROM invoice WHERE payment_status = 'paid'")["n"][0]
    assert paid > 0 and paying[0] and paying[1] > paying[0], "the second demo carries the marketplace on: new settlements, paid again"

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    port = free_port()
    server = prefect_server.start_server(port, tmp_path / "prefect-server.log")
    browser = Browser(browser_path)
    try:
        api = prefect_server.api_url(port)
        artifact = httpx.post(f"{api}/artifacts/filter", trust_env=False, json={
            "artifacts": {"key": {"any_": ["settlement-summary"]}}, "sort": "CREATED_DESC", "limit": 1}).json()[0]
        run = httpx.get(f"{api}/flow_runs/{artifact['flow_run_id']}", trust_env=False).json()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.text_after(f"http://127.0.0.1:{port}/runs/flow-run/{run['id']}", [run["name"], "settlement", "Completed"])
        browser.screenshot(SCREENSHOTS / "flow-run.png")
        browser.text_after(f"http://127.0.0.1:{port}/artifacts/artifact/{artifact['id']}",
                           ["settlement: OK", "Settlement ", "computed total", "invoices paid"])
        browser.screenshot(SCREENSHOTS / "settlement-summary.png")
        assert (SCREENSHOTS / "settlement-summary.png").stat().st_size > 10_000
    finally:
        try:
            browser.close()
        finally:
            prefect_server.stop(server)


def test_serve_schedules_five_deployments_runs_them_and_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    serve = subprocess.Popen([OMSYNC, "serve", "--port", str(port), "--every", "orders=10"], cwd=tmp_path,
                             env=clean_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    api = prefect_server.api_url(port)
    try:
        deadline = time.monotonic() + 240
        completed = []
        while not completed:
            assert serve.poll() is None, serve.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "no orders run completed"
            if prefect_server.is_up(api):
                completed = httpx.post(f"{api}/flow_runs/filter", trust_env=False, json={
                    "flows": {"name": {"any_": ["orders"]}}, "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}).json()
            time.sleep(1)
        deployments = httpx.post(f"{api}/deployments/filter", trust_env=False, json={}).json()
        assert sorted(d["name"] for d in deployments) == ["inventory", "orders", "prices", "settlement", "shipments"]
        assert all(d["schedules"] and d["schedules"][0]["active"] for d in deployments)
        assert completed[0]["deployment_id"] in {d["id"] for d in deployments}
        started_at_once = httpx.post(f"{api}/flow_runs/filter", trust_env=False, json={
            "flow_runs": {"tags": {"all_": ["omsync-serve-start"]}}}).json()
        assert {r["deployment_id"] for r in started_at_once} == {d["id"] for d in deployments}, "every flow runs once at start"
        pools = httpx.post(f"{api}/work_pools/filter", trust_env=False, json={}).json()
        assert "omsync" in {p["name"] for p in pools}, "the work pool prefect.yaml names exists"
        by_hand = subprocess.run([OMSYNC, "run", "shipments"], cwd=tmp_path, env=clean_env(tmp_path), capture_output=True,
                                 text=True, timeout=180)  # finds serve's server on its port through data/prefect-server.url
        assert by_hand.returncode == 0 and "Running the deployment shipments/shipments" in by_hand.stdout, by_hand.stderr[-2000:]
        assert "shipments: OK" in by_hand.stdout, "the run's summary is printed"
        shipments = next(d["id"] for d in deployments if d["name"] == "shipments")
        runs_of_shipments = httpx.post(f"{api}/flow_runs/filter", trust_env=False, json={
            "flow_runs": {"deployment_id": {"any_": [shipments]}}}).json()
        assert len(runs_of_shipments) >= 2, "omsync run's run is one of the deployment's (its Activity shows it)"
    finally:
        os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            output, _ = serve.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            raise
    sandbox_url = next(line.split(" on ")[1].split()[0] for line in output.splitlines() if line.startswith("Amazon: the sandbox on"))
    assert not prefect_server.is_up(api), "the Prefect server it started is stopped"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{sandbox_url}/_sandbox/clock", trust_env=False, timeout=2)
