"""`omsync serve`: the five deployments of prefect.yaml with their schedules, served from this
process against a local Prefect server; the sandbox and the embedded OM unless configured otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from connectors.om import OmDatabase
from omsync import prefect_server
from omsync.demo import publish_catalog, sandbox_env
from omsync.errors import ConfigError
from omsync.settings import DEFAULT_OM_URL, Settings
from sandbox import om_demo_data
from sandbox.process import start_sandbox

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
    from flows.registry import FLOWS

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


def serve(settings: Settings, port: int, every: dict[str, int], console: Console) -> None:
    """Reuse or start the Prefect server, then the sandbox and the embedded OM when nothing else is
    configured, then serve the deployments until Ctrl-C; stop whatever was started here."""
    specs = read_deployments()
    started = []
    try:
        if prefect_server.use_running_server(port) is None:
            console.print(f"Starting a Prefect server on http://127.0.0.1:{port} …")
            started.append(prefect_server.start_server(port, settings.warehouse.with_name("prefect-server.log")))
            os.environ["PREFECT_API_URL"] = prefect_server.api_url(port)
        if settings.om_url == DEFAULT_OM_URL:
            prepare_embedded_om(settings.om_url)
        if wants_sandbox(settings):
            sandbox = start_sandbox("--time-scale", str(SERVE_TIME_SCALE), "--order-rate", str(SERVE_ORDER_RATE),
                                    "--state", str(settings.warehouse.with_name("sandbox-state.json")))
            started.append(sandbox.process)
            # Served runs are child processes of Prefect's runner, which build their resources from
            # the settings in the environment they inherit (as on a worker).
            os.environ.update(sandbox_env(sandbox))
            publish_catalog(sandbox, OmDatabase(settings.om_url), withdrawn=False)
            console.print(f"Amazon: the sandbox on {sandbox.url} (buyers order {SERVE_ORDER_RATE} times a simulated hour)")
        deployments = build_deployments(specs, every)
        table = Table("deployment", "every", "parameters", title=f"Serving; UI at http://127.0.0.1:{port} — Ctrl-C stops")
        for deployment in deployments:
            seconds = deployment.schedules[0].schedule.interval.total_seconds()
            table.add_row(deployment.name, f"{seconds / 60:g} min", ", ".join(f"{k}={v}" for k, v in deployment.parameters.items()))
        console.print(table)
        from prefect import serve as serve_deployments  # only now: Prefect reads PREFECT_API_URL once, at import

        serve_deployments(*deployments, print_starting_message=False)
    finally:
        for process in reversed(started):
            prefect_server.stop(process)
