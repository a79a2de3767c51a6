"""prefect.yaml: every deployment's entrypoint loads with its parameters, on the schedule the
operations issue names, one run at a time; it says what the flow registry says; `omsync serve`
builds the same deployments from it."""

import pytest
from prefect.flows import load_flow_from_entrypoint

from omsync.flows.registry import REGISTRY, SPECS, prefect_yaml
from omsync.core.errors import ConfigError
from omsync.serve import PROJECT, SPEC, build_deployments, parse_every, read_deployments

SCHEDULES = {spec.name: spec.interval for spec in REGISTRY}
OPERATIONS_SCHEDULES = {"orders": 300, "inventory": 900, "shipments": 900, "prices": 3600, "settlement": 21600}


@pytest.mark.parametrize("spec", read_deployments(), ids=lambda spec: spec["name"])
def test_each_entrypoint_loads_with_its_parameters_schedule_and_limit(spec):
    flow = load_flow_from_entrypoint(str(PROJECT / spec["entrypoint"]))
    assert flow.name == spec["name"]
    flow.validate_parameters(spec["parameters"])
    assert [s["interval"] for s in spec["schedules"]] == [SCHEDULES[spec["name"]]]
    assert spec["concurrency_limit"] == 1 and spec["work_pool"]["name"] == "omsync"
    assert "omsync" in spec["tags"]


def test_the_registry_keeps_the_schedules_the_operations_issue_names():
    assert {name: SCHEDULES[name] for name in OPERATIONS_SCHEDULES} == OPERATIONS_SCHEDULES


def test_the_yaml_declares_the_registrys_flows_as_the_registry_says():
    assert sorted(spec["name"] for spec in read_deployments()) == sorted(SCHEDULES)
    assert read_deployments() == [spec.deployment() for spec in REGISTRY], "run `python -m omsync.flows.registry` to rewrite prefect.yaml"
    assert SPEC.read_text() == prefect_yaml(), "run `python -m omsync.flows.registry` to rewrite prefect.yaml"


def test_each_entrypoint_is_the_registrys_flow():
    for spec in REGISTRY:
        assert load_flow_from_entrypoint(str(PROJECT / spec.entrypoint)).name == SPECS[spec.name].load().name == spec.name


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
