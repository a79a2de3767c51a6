"""Flow tests: a real OM (SQLite or PostgreSQL), the sandbox over HTTP, a fresh warehouse, Prefect."""

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from connectors.om import OmDatabase
from connectors.warehouse import Warehouse
from sandbox import om_demo_data
from sandbox.process import Sandbox
from transforms.amazon_items import offered_items


@dataclass
class FlowWorld:
    om: OmDatabase
    warehouse: Warehouse
    sandbox: Sandbox
    env: dict[str, str]

    def state(self) -> pl.DataFrame:
        with self.warehouse.read() as con:
            return con.execute("SELECT * FROM ops.listing_state ORDER BY sku").pl()

    def listings(self) -> dict[str, dict]:
        return {l["sku"]: l for l in self.sandbox.admin("GET", "listings")["listings"]}

    def om_execute(self, sql_for_table, params):
        """One write statement on an OM table, e.g. lambda t: f"UPDATE {t('inventory')} SET …"."""
        with self.om.session() as con:
            con.execute(sql_for_table(self.om.table_ref), params)

    def publish_catalog(self, skip: set[str] = frozenset()) -> None:
        """The seller's listings exist on Amazon: every OM item that has an AmazonItem attribute."""
        items = self.om.read("SELECT item_id, item_code, backorderable, active FROM item")
        attributes = self.om.read("SELECT item_id, name, value, tag FROM item_attribute")
        offered = offered_items(items, attributes).join(attributes.filter(pl.col("name") == "AmazonItem").select("item_id"), on="item_id")
        listings = [{"sku": sku, "productType": pt} for sku, pt in offered.select("sku", "product_type").iter_rows() if sku not in skip]
        self.sandbox.admin("POST", "listings", {"listings": listings})


@pytest.fixture
def world(om_url, sandbox, tmp_path: Path, monkeypatch, prefect_server) -> FlowWorld:
    om = OmDatabase(om_url)
    om.init_schema()
    om_demo_data.load(om, om_demo_data.generate(items=400, sites=3, customers=50, seed=3))
    variables = {
        "OMSYNC_OM_URL": om_url,
        "OMSYNC_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "OMSYNC_AMAZON_ENDPOINT": sandbox.url,
        "SP_API_REFRESH_TOKEN": "Atzr|flow-tests",
        "LWA_APP_ID": "amzn1.application-oa2-client.flow-tests",
        "LWA_CLIENT_SECRET": "flow-tests-secret",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return FlowWorld(om, Warehouse(tmp_path / "warehouse.duckdb"), sandbox, variables)


def artifacts_of_latest_run(key: str) -> list:
    """The artifacts Prefect holds under a key, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC)
