"""The sandbox's own tests: an HTTP client holding a seller's access token."""

import httpx
import pytest


@pytest.fixture
def api(sandbox):
    token = httpx.post(f"{sandbox.url}/auth/o2/token", data={"grant_type": "refresh_token", "client_id": "c", "client_secret": "s", "refresh_token": "r"}, trust_env=False).json()["access_token"]
    # python-amazon-sp-api sends a mangled Host header ("27.0.0.1:…"): the sandbox must not care
    with httpx.Client(base_url=sandbox.url, headers={"x-amz-access-token": token, "host": "27.0.0.1:8900"}, trust_env=False, timeout=30) as client:
        yield client
