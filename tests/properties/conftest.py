"""The flow fixtures, shared with the flow tests."""

from tests.flows.conftest import world  # noqa: F401
