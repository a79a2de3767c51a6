"""`omsync serve`: the five deployments of prefect.yaml with their schedules, served from this
process against a local Prefect server; the sandbox and the embedded OM unless configured otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from omsync.errors import ConfigError

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
    from connectors.om import OmDatabase
    from sandbox import om_demo_data

    om = OmDatabase(om_url)
    om.init_schema()
    if not om.counts()["item"]:
        om_demo_data.load(om, om_demo_data.generate(2000, 3, 500, 7))


def wants_sandbox() -> bool:
    """No Amazon endpoint and no Amazon credentials configured: serve against the sandbox."""
    return not os.environ.get("OMSYNC_AMAZON_ENDPOINT") and not os.environ.get("SP_API_REFRESH_TOKEN")
