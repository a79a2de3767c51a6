"""`omsync serve`: the five deployments of prefect.yaml with their schedules, served from this
process against a local Prefect server; the sandbox and the embedded OM unless configured otherwise."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from omsync.connectors.om import OmDatabase
from omsync import output, prefect_server
from omsync.demo import SANDBOX_TIME_SCALE, publish_catalog, sandbox_env
from omsync.core.errors import ConfigError
from omsync.core.settings import DEFAULT_OM_URL, Settings
from omsync.sandbox import om_demo_data
from omsync.sandbox.process import Sandbox, start_sandbox

PROJECT = Path(__file__).resolve().parents[1]
SPEC = PROJECT / "prefect.yaml"
SERVE_TIME_SCALE = 60  # the sandbox's minute per real second: orders arrive, periods close, in a watchable time
SERVE_ORDER_RATE = 30  # buyers' orders per simulated hour


def read_deployments(path: Path = SPEC) -> list[dict]:
    """The deployments declared in prefect.yaml."""
    try:
        return yaml.safe_load(path.read_text())["deployments"]
    except (OSError, KeyError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the deployments in {path}: {exc}") from None


def parse_every(values: list[str]) -> dict[str, int]:
    """`orders=120` → {"orders": 120}: schedule overrides in seconds."""
    every = {}
    for value in values:
        name, _, seconds = value.partition("=")
        if not seconds.isdigit() or int(seconds) < 10:
            raise ConfigError(f"--every takes FLOW=SECONDS (10 or more), e.g. orders=120; got {value!r}")
        every[name] = int(seconds)
    return every


def build_deployments(specs: list[dict], every: dict[str, int]) -> list:
    """Runner deployments from the specs: same names, parameters, tags, intervals and concurrency limit."""
    from omsync.flows.registry import FLOWS

    unknown = set(every) - {spec["name"] for spec in specs}
    if unknown:
        raise ConfigError(f"--every: no deployment named {', '.join(sorted(unknown))}")
    return [
        FLOWS[spec["name"]].to_deployment(
            name=spec["name"], description=spec.get("description"), parameters=spec.get("parameters") or {},
            tags=spec.get("tags"), interval=every.get(spec["name"], spec["schedules"][0]["interval"]),
            concurrency_limit=spec.get("concurrency_limit"),
        )
        for spec in specs
    ]


def prepare_embedded_om(om_url: str) -> None:
    """The embedded OM exists and has demo data (an empty OM gives the flows nothing to show)."""
    om = OmDatabase(om_url)
    om.init_schema()
    if not om.counts()["item"]:
        om_demo_data.load(om, om_demo_data.generate(2000, 3, 500, 7))


def wants_sandbox(settings: Settings) -> bool:
    """No Amazon endpoint and no Amazon credentials configured: serve against the sandbox."""
    return not settings.amazon_endpoint and not settings.refresh_token


def start_marketplace(settings: Settings, time_scale: float, order_rate: float) -> Sandbox:
    """The sandbox with the marketplace `omsync demo` and `omsync serve` keep in data/sandbox-state.json,
    the OM's catalog listed; this process's flows pointed at it."""
    sandbox = start_sandbox("--time-scale", str(time_scale), "--order-rate", str(order_rate),
                            "--state", str(settings.warehouse.with_name("sandbox-state.json")))
    # Served runs are child processes of Prefect's runner, which build their resources from the
    # settings in the environment they inherit (as on a worker).
    os.environ.update(sandbox_env(sandbox))
    try:
        publish_catalog(sandbox, OmDatabase(settings.om_url), withdrawn=False)
    except BaseException:  # an unusable OM: its one-line error, and no sandbox left running
        sandbox.stop()
        raise
    return sandbox


@contextmanager
def marketplace(settings: Settings, console: Console) -> Iterator[Settings]:
    """For one command (`omsync run`): with no Amazon configured, the demo's marketplace as `serve` has it,
    stopped afterwards; yields the settings to use."""
    if not wants_sandbox(settings):
        yield settings
        return
    if settings.om_url == DEFAULT_OM_URL and not OmDatabase(settings.om_url).sqlite_path.exists():
        prepare_embedded_om(settings.om_url)
    sandbox = start_marketplace(settings, SANDBOX_TIME_SCALE, 0)
    console.print(output.cell(f"Amazon: the sandbox on {sandbox.url} with the marketplace in "
                              f"{settings.warehouse.with_name('sandbox-state.json')} (no OMSYNC_AMAZON_ENDPOINT set)"))
    try:
        yield Settings.from_env()
    finally:
        sandbox.stop()


def serve(settings: Settings, port: int, every: dict[str, int], console: Console, notify: str | None = None,
          run_now: bool = True) -> None:
    """Reuse or start the Prefect server, then the sandbox and the embedded OM when nothing else is
    configured, then serve the deployments until Ctrl-C (each run once now unless not run_now; alerts to
    the `notify` webhook); stop whatever was started here."""
    specs = read_deployments()
    started = []
    record = server_record(settings)
    try:
        if prefect_server.use_running_server(port) is None:
            console.print(f"Starting a Prefect server on http://127.0.0.1:{port} …")
            started.append(prefect_server.start_server(port, settings.warehouse.with_name("prefect-server.log")))
            os.environ["PREFECT_API_URL"] = prefect_server.api_url(port)
        prefect_server.record_url(record, os.environ["PREFECT_API_URL"])
        if settings.om_url == DEFAULT_OM_URL:
            prepare_embedded_om(settings.om_url)
        if wants_sandbox(settings):
            sandbox = start_marketplace(settings, SERVE_TIME_SCALE, SERVE_ORDER_RATE)
            started.append(sandbox.process)
            console.print(f"Amazon: the sandbox on {sandbox.url} (buyers order {SERVE_ORDER_RATE} times a simulated hour)")
        deployments = build_deployments(specs, every)
        table = Table("deployment", "every", "parameters", title=f"Serving; UI at http://127.0.0.1:{port} — Ctrl-C stops")
        for deployment in deployments:
            seconds = deployment.schedules[0].schedule.interval.total_seconds()
            table.add_row(deployment.name, f"{seconds / 60:g} min", ", ".join(f"{k}={v}" for k, v in deployment.parameters.items()))
        console.print(table)
        from prefect import serve as serve_deployments  # only now: Prefect reads PREFECT_API_URL once, at import

        ensure_work_pool(specs)
        if notify:
            from omsync import alerts

            alerts.install(notify)
            console.print("Alerts: a failed run, or one with problems, posts to the webhook (OMSYNC_NOTIFY_URL)")
        if run_now:
            started_now = run_once_now(deployments)
            console.print(f"Running each flow once now: {', '.join(started_now)}")
        serve_deployments(*deployments, print_starting_message=False)
    finally:
        if os.environ.get("PREFECT_API_URL"):
            prefect_server.forget_url(record, os.environ["PREFECT_API_URL"])
        for process in reversed(started):
            prefect_server.stop(process)


def ensure_work_pool(specs: list[dict]) -> None:
    """The work pool prefect.yaml names exists (a process pool), so that the UI does not warn about it and
    `prefect worker start --pool …` finds it; serve itself runs the flows in its own process."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        for name in sorted({spec["work_pool"]["name"] for spec in specs if spec.get("work_pool")}):
            try:
                client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            except ObjectAlreadyExists:
                pass


def run_once_now(deployments: list) -> list[str]:
    """A run of each deployment now, in prefect.yaml's order, so that the UI shows every flow at once
    instead of after its first interval (prices after an hour, settlement after six)."""
    from prefect.deployments import run_deployment

    for deployment in deployments:
        deployment.apply()
        run_deployment(f"{deployment.flow_name}/{deployment.name}", timeout=0, tags=["omsync-serve-start"])
    return [d.name for d in deployments]


def served_deployment(name: str) -> str | None:
    """The deployment `flow/name` when a runner (`omsync serve`) is polling for its runs now, else None."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import DeploymentStatus
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(f"{name}/{name}")
        except (ObjectNotFound, httpx.HTTPError):  # no such deployment, or PREFECT_API_URL names a server that is down
            return None
    return f"{name}/{name}" if deployment.status == DeploymentStatus.READY else None


def run_deployment_now(deployment: str, parameters: dict, console: Console) -> str:
    """One run of a served deployment, waited for; returns its final state's name and prints its summary."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.deployments import run_deployment
    from rich.markdown import Markdown

    console.print(output.cell(f"Running the deployment {deployment} on the server `omsync serve` runs …"))
    run = run_deployment(deployment, parameters=parameters, poll_interval=1, as_subflow=False)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
    for artifact in artifacts:
        if artifact.type == "markdown" and artifact.key and artifact.key.endswith("-summary"):
            console.print(Markdown(str(artifact.data)))
    return run.state.name if run.state else "unknown"


def server_record(settings: Settings) -> Path:
    """Where `serve` writes its Prefect API URL, beside the warehouse, for `run` and `demo` to find."""
    return settings.warehouse.with_name("prefect-server.url")
