"""`omsync status` as an operator runs it: the embedded OM, the sandbox over HTTP, a real warehouse."""

from datetime import datetime, timezone

import polars as pl

from omsync.connectors import ops
from omsync.connectors.om import OmDatabase
from omsync.connectors.warehouse import Warehouse
from tests.test_cli import run

FLOWS = ("orders", "inventory", "shipments", "prices", "settlement")


def healthy_warehouse(warehouse: Warehouse) -> None:
    with warehouse.write() as con:
        for flow in FLOWS:
            ops.start_run(con, f"run-{flow}", flow, None)
            ops.finish_run(con, f"run-{flow}", 10, 10, "OK", "")
        ops.save_watermark(con, "orders", "last_updated_before", ["ATVPDKIKX0DER"], datetime.now(timezone.utc).isoformat())


def status_env(tmp_path, sandbox) -> dict[str, str]:
    om_url = f"sqlite:///{tmp_path / 'om.sqlite'}"
    OmDatabase(om_url).init_schema()
    settings = sandbox.settings()
    return {"OMSYNC_OM_URL": om_url, "OMSYNC_AMAZON_ENDPOINT": settings.amazon_endpoint, "SP_API_REFRESH_TOKEN": "Atzr|x",
            "LWA_APP_ID": "x", "LWA_CLIENT_SECRET": "x"}


def test_status_is_all_well_and_exit_0_when_nothing_needs_a_person(tmp_path, sandbox):
    env = status_env(tmp_path, sandbox)
    healthy_warehouse(Warehouse(tmp_path / "data" / "warehouse.duckdb"))
    done = run("status", cwd=tmp_path, env=env, check=False)
    assert done.returncode == 0, done.stdout
    assert "All well." in done.stdout and sandbox.url in done.stdout
    for line in ("Amazon roles", "flow orders", "flow settlement", "orders lag", "feeds pending", "prices held", "open problems",
                 "late shipments", "receivables overdue"):
        assert line in done.stdout


def test_status_marks_what_needs_a_person_and_exits_1(tmp_path, sandbox):
    env = status_env(tmp_path, sandbox)
    warehouse = Warehouse(tmp_path / "data" / "warehouse.duckdb")
    healthy_warehouse(warehouse)
    with warehouse.write() as con:
        ops.start_run(con, "failed-prices", "prices", None)
        ops.finish_run(con, "failed-prices", 0, 0, "FAILED", "AmazonUnavailable: [/] down")
        ops.record_held_prices(con, "ATVPDKIKX0DER", pl.DataFrame({"sku": ["SKU-1"], "price": [1.0], "previous": [10.0], "change_percent": [-90.0]}))
        ops.record_quarantine(con, "inventory", pl.DataFrame({"key": ["SKU-2"], "raw_value": ["-1"], "reason": ["negative stock: -1"]}))
    done = run("status", cwd=tmp_path, env=env, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    marked = [line for line in done.stdout.splitlines() if line.strip().startswith("!")]
    assert any("flow prices" in l and "failed" in l and "[/] down" in l for l in marked)
    assert any("prices held" in l and " 1 " in l for l in marked)
    assert any("open problems: inventory: negative stock" in l for l in marked)
    assert len(marked) == 3 and "3 need a person" in done.stdout


def test_status_says_which_part_is_down(tmp_path):
    done = run("status", cwd=tmp_path, env={"OMSYNC_AMAZON_ENDPOINT": "http://127.0.0.1:9", "SP_API_REFRESH_TOKEN": "x",
                                            "LWA_APP_ID": "x", "LWA_CLIENT_SECRET": "x"}, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    down = [line for line in done.stdout.splitlines() if "DOWN" in line]
    assert [l.split()[1] for l in down] == ["OM", "warehouse", "Amazon"]
