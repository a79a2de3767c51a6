"""`omsync sql` and `omsync shell` are confined to the warehouse: every attack of the hardening issue
fails, and ordinary queries (on the newest snapshot or an earlier one) still work."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from omsync.connectors.warehouse import Warehouse
from omsync.adhoc_sql import run_query, shell_command
from omsync.core.errors import UserError, WriteRefused

OMSYNC = str(Path(sys.executable).with_name("omsync"))


@pytest.fixture
def world(tmp_path, monkeypatch) -> Warehouse:
    """A warehouse with a run and a landing, and a buyer in an OM file beside it, as `make demo` leaves them."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "victim.txt").write_text("precious")
    wh = Warehouse(tmp_path / "data" / "warehouse.duckdb")
    with wh.write() as con:
        con.execute("INSERT INTO ops.runs (run_id, flow, started) VALUES ('r1', 'orders', now())")
        wh.land(con, "amazon_orders", pl.DataFrame({"order_id": ["A"]}), "b1")
    om = sqlite3.connect(tmp_path / "data" / "om.sqlite")
    om.execute("CREATE TABLE customer (name TEXT)")
    om.execute("INSERT INTO customer VALUES ('Jane Buyer')")
    om.commit()
    om.close()
    return wh


ATTACKS = {
    "COPY to a file": "COPY (SELECT 'pwned') TO 'victim.txt' (HEADER false)",
    "EXPLAIN ANALYZE COPY": "EXPLAIN ANALYZE COPY (SELECT 'pwned') TO 'victim.txt' (HEADER false)",
    "explain analyse, lower case": "explain analyse copy (select 'pwned') to 'victim.txt' (header false)",
    "PARTITION_BY tree": "EXPLAIN ANALYZE COPY (SELECT 1 AS p) TO 'tree' (FORMAT csv, PARTITION_BY (p))",
    "read_csv of the password file": "SELECT * FROM read_csv('/etc/passwd')",
    "read_text of any file": "SELECT * FROM read_text('victim.txt')",
    "glob of any folder": "SELECT * FROM glob('/etc/*')",
    "read_blob of the OM": "SELECT * FROM read_blob('data/om.sqlite')",
    "the SQLite scanner on the OM": "SELECT * FROM sqlite_scan('data/om.sqlite', 'customer')",
    "the scanner hidden in a subquery": "SELECT (SELECT name FROM sqlite_scan('data/om.sqlite', 'customer') LIMIT 1)",
    "turning access back on": "SET enable_external_access = true",
    "two statements": "SELECT 1; COPY (SELECT 1) TO 'victim.txt'",
    "attaching the OM": "ATTACH 'data/om.sqlite' AS om (TYPE sqlite)",
    "a write": "DELETE FROM ops.runs",
}


@pytest.mark.parametrize("sql", ATTACKS.values(), ids=ATTACKS.keys())
def test_every_attack_of_the_issue_is_refused(world, tmp_path, sql):
    with pytest.raises(WriteRefused):
        run_query(world, sql)
    assert (tmp_path / "victim.txt").read_text() == "precious" and not (tmp_path / "tree").exists()
    assert run_query(world, "SELECT count(*) AS n FROM ops.runs")["n"][0] == 1


def test_queries_over_the_warehouse_and_its_landings_still_work(world):
    assert run_query(world, "SELECT order_id FROM landing.amazon_orders")["order_id"].to_list() == ["A"]
    assert "explain_value" in run_query(world, "EXPLAIN SELECT * FROM ops.runs").columns
    assert run_query(world, "EXPLAIN ANALYZE SELECT count(*) FROM ops.runs").height >= 1
    with pytest.raises(UserError, match="Table with name nope does not exist"):
        run_query(world, "SELECT * FROM nope")


def test_sql_answers_as_of_a_snapshot_or_a_moment(world, tmp_path):
    snapshots = world.snapshots()
    with world.write() as con:
        con.execute("INSERT INTO ops.runs (run_id, flow, started) VALUES ('r2', 'orders', now())")
    newest = subprocess.run([OMSYNC, "sql", "SELECT count(*) AS n FROM ops.runs", "-f", "csv"], capture_output=True, text=True, cwd=tmp_path)
    before = subprocess.run([OMSYNC, "sql", "SELECT count(*) AS n FROM ops.runs", "-f", "csv", "--snapshot", str(snapshots["snapshot_id"].max())],
                            capture_output=True, text=True, cwd=tmp_path)
    at = subprocess.run([OMSYNC, "sql", "SELECT count(*) AS n FROM ops.runs", "-f", "csv", "--at", snapshots["snapshot_time"].max().isoformat()],
                        capture_output=True, text=True, cwd=tmp_path)
    assert (newest.stdout, before.stdout, at.stdout) == ("n\n2\n", "n\n1\n", "n\n1\n"), (newest.stderr, before.stderr, at.stderr)


def test_the_shell_opens_the_duckdb_cli_on_the_warehouse_confined(world, tmp_path):
    script = "SELECT count(*) FROM ops.runs;\nSELECT * FROM read_text('victim.txt');\nCOPY (SELECT 1) TO 'victim.txt';\n.shell touch shelled\n"
    shown = subprocess.run(shell_command(world), input=script, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert "│            1 │" in shown.stdout, shown.stdout + shown.stderr
    assert shown.stderr.count("Permission Error") == 2 and "cannot be used in -safe mode" in shown.stderr
    assert (tmp_path / "victim.txt").read_text() == "precious" and not (tmp_path / "shelled").exists()
    version = subprocess.run([shell_command(world)[0], "-version"], capture_output=True, text=True).stdout
    import duckdb

    assert version.startswith(f"v{duckdb.__version__} "), "the CLI is the DuckDB version of the extensions"
