"""Every flow `omsync run` knows is a Prefect flow under its own name, with parameters Prefect can describe."""

import pytest
from prefect import Flow

from omsync.flows.registry import FLOWS


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_each_flow_loads_with_its_parameters(name):
    flow = FLOWS[name]
    assert isinstance(flow, Flow) and flow.name == name
    properties = flow.parameters.properties
    assert all("default" in spec for spec in properties.values()), "every parameter has a default: a scheduled run needs none"
    flow.validate_parameters({key: spec["default"] for key, spec in properties.items()})
