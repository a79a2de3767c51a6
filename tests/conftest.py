"""Shared fixtures: a real PostgreSQL and a real SQLite OM for every OM test, fresh per test."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from omsync.sandbox.postgres import NoPostgres, PgCluster, start_cluster

# The longest test files (about a minute and a half or more each), started first: `make test`'s workers
# take a file at a time in collection order, and one of these begun last would run on alone at the end.
LONGEST_FIRST = ("test_simulate.py", "test_operations.py", "flows/test_orders.py", "test_cli.py", "flows/test_shipments.py",
                 "flows/test_inventory.py", "flows/test_settlement.py", "test_several_machines.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        return next((i for i, name in enumerate(LONGEST_FIRST) if path.endswith("tests/" + name)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: within a file, and among the rest, the order stays as collected

IN_CI = os.environ.get("CI", "").lower() == "true"
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
for variable in ("SP_API_DEFAULT_MARKETPLACE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(variable, None)


@pytest.fixture(scope="session")
def pg_cluster() -> PgCluster:
    try:
        cluster = start_cluster()
    except NoPostgres as exc:
        if IN_CI:
            pytest.fail(f"CI=true needs PostgreSQL: {exc}")
        pytest.skip(f"no PostgreSQL here: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A new, empty PostgreSQL database for one test."""
    import psycopg

    name = f"om_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield pg_cluster.url(name)
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'om.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def om_url(request: pytest.FixtureRequest) -> str:
    """Each OM test runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture(scope="session")
def sandbox_server():
    from omsync.sandbox.process import start_sandbox

    server = start_sandbox("--time-scale", "1000", "--validate-responses", "--seed", "1")
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The sandbox, reset to an empty marketplace for this test; no answer may break Amazon's models."""
    sandbox_server.admin("POST", "reset", {"seed": 1, "timeScale": 1000, "orderRate": 0})
    yield sandbox_server
    assert sandbox_server.admin("GET", "violations")["violations"] == []


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """One isolated Prefect API for the session (results and transactions kept out of ~/.prefect)."""
    os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(tmp_path_factory.mktemp("prefect-results"))
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield PREFECT_API_URL.value()
