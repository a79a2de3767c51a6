"""prefect.yaml: every deployment's entrypoint loads with its parameters, on the schedule the
operations issue names, one run at a time; `omsync serve` builds the same deployments from it."""

import pytest
from prefect.flows import load_flow_from_entrypoint

from omsync.errors import ConfigError
from omsync.serve import PROJECT, build_deployments, parse_every, read_deployments

SCHEDULES = {"orders": 300, "inventory": 900, "shipments": 900, "prices": 3600, "settlement": 21600}


@pytest.mark.parametrize("spec", read_deployments(), ids=lambda spec: spec["name"])
def test_each_entrypoint_loads_with_its_parameters_schedule_and_limit(spec):
    flow = load_flow_from_entrypoint(str(PROJECT / spec["entrypoint"]))
    assert flow.name == spec["name"]
    flow.validate_parameters(spec["parameters"])
    assert [s["interval"] for s in spec["schedules"]] == [SCHEDULES[spec["name"]]]
    assert spec["concurrency_limit"] == 1 and spec["work_pool"]["name"] == "omsync"
    assert "omsync" in spec["tags"]


def test_the_yaml_declares_the_five_flows():
    assert sorted(spec["name"] for spec in read_deployments()) == sorted(SCHEDULES)


def test_serve_builds_the_same_deployments_with_overrides():
    deployments = {d.name: d for d in build_deployments(read_deployments(), parse_every(["orders=60"]))}
    assert sorted(deployments) == sorted(SCHEDULES)
    intervals = {name: d.schedules[0].schedule.interval.total_seconds() for name, d in deployments.items()}
    assert intervals == {**SCHEDULES, "orders": 60}
    assert deployments["orders"].parameters["terms_code"] == "NET14"
    assert all(d.concurrency_limit == 1 for d in deployments.values())


@pytest.mark.parametrize("value", ["orders", "orders=fast", "orders=5", "refunds=60"])
def test_a_bad_schedule_override_is_refused_with_the_expected_form(value):
    with pytest.raises(ConfigError, match="--every|no deployment named"):
        build_deployments(read_deployments(), parse_every([value]))
