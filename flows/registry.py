"""The one list of omsync's flows: name, entrypoint, what a scheduled run passes, how often, and what
it does. `omsync run` and its help, `omsync serve`, the demo and prefect.yaml all come from here;
adding a flow is an entry here and its module (then `python -m omsync.flows.registry` rewrites prefect.yaml).
Flow modules load on first use, so that the CLI's help does not import Prefect."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from omsync.transforms.terms import DEFAULT_TERMS

PROJECT = Path(__file__).resolve().parents[1]
PREFECT_YAML = PROJECT / "prefect.yaml"
WORK_POOL = {"name": "omsync", "work_queue_name": "default"}


@dataclass(frozen=True)
class FlowSpec:
    name: str
    entrypoint: str  # prefect.yaml's form: the flow module's file, relative to the project, and the function
    description: str
    interval: int  # seconds between scheduled runs
    parameters: dict = field(default_factory=dict)  # what a scheduled run passes
    tags: tuple[str, ...] = ()

    def load(self):
        """The Prefect flow itself."""
        path, function = self.entrypoint.split(":")
        return getattr(importlib.import_module(f"{__package__}.{Path(path).stem}"), function)

    def deployment(self) -> dict:
        """This flow's deployment in prefect.yaml."""
        return {"name": self.name, "description": self.description, "entrypoint": self.entrypoint, "parameters": self.parameters,
                "tags": ["omsync", *self.tags], "schedules": [{"interval": self.interval}], "concurrency_limit": 1,
                "work_pool": dict(WORK_POOL)}


REGISTRY = (
    FlowSpec("orders", "flows/orders.py:orders", "Amazon orders → OM sales orders, exactly once, with their customers.", 300,
             {"overlap_minutes": 10, "initial_days": 30, "terms_code": DEFAULT_TERMS}, ("amazon-to-om",)),
    FlowSpec("inventory", "flows/inventory.py:inventory", "OM available-to-sell (reserve rules, backorders) → Amazon quantities.", 900,
             {"full": False}, ("om-to-amazon",)),
    FlowSpec("shipments", "flows/shipments.py:shipments",
             "OM shipping orders → Amazon ship confirmations; then the OM closes them and their invoices.", 900, {}, ("om-to-amazon",)),
    FlowSpec("prices", "flows/prices.py:prices", "OM AmazonPrice → Amazon offer prices, with the fat-finger guard.", 3600,
             {"full": False}, ("om-to-amazon",)),
    FlowSpec("settlement", "flows/settlement.py:settlement", "Amazon settlement reports → OM invoice payments, reconciled under their Terms.",
             21600, {"overlap_days": 3}, ("amazon-to-om",)),
)
SPECS = {spec.name: spec for spec in REGISTRY}
NAMES = tuple(SPECS)


class _Flows(Mapping):
    """name → Prefect flow, each module imported when its flow is first asked for."""

    def __getitem__(self, name: str):
        return SPECS[name].load()

    def __iter__(self) -> Iterator[str]:
        return iter(SPECS)

    def __len__(self) -> int:
        return len(SPECS)


FLOWS = _Flows()

YAML_HEADER = """\
# The omsync deployments, written by `python -m omsync.flows.registry` from flows/registry.py (edit that, not
# this). `omsync serve` serves them from one process on one machine; on a real Prefect server, with
# workers on other machines:
#   prefect work-pool create omsync --type process
#   prefect --no-prompt deploy --all            (from this folder)
#   prefect worker start --pool omsync          (on each machine, in this folder, with the OMSYNC_* settings)
# Change a schedule in the registry (or with `omsync serve --every FLOW=SECONDS`); every run of a deployment
# waits for the one before it (concurrency_limit 1), because each flow owns its OM rows and watermark.
"""


def prefect_yaml() -> str:
    """prefect.yaml's text as the registry says it should be."""
    import prefect
    import yaml

    project = {"name": "omsync", "prefect-version": prefect.__version__, "deployments": [spec.deployment() for spec in REGISTRY]}
    return YAML_HEADER + yaml.safe_dump(project, sort_keys=False, allow_unicode=True, width=140)


if __name__ == "__main__":
    PREFECT_YAML.write_text(prefect_yaml())
    sys.stdout.write(f"wrote {PREFECT_YAML}\n")
