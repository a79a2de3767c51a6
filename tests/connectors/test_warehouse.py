"""The warehouse on DuckLake: migrations, transactions replayed after a conflict, snapshots and time
travel, the single-file import, Parquet landings, the cache, real concurrent processes."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from omsync.connectors.frames import registered
from omsync.connectors.warehouse import Warehouse, WarehouseConflict, computation_key
from omsync.connectors.warehouse_schema import MIGRATIONS
from omsync.core.errors import ConfigError
from omsync.transforms import amazon_items, availability

CONTRACT = {
    "ops.listing_state", "ops.orders", "ops.quarantine", "ops.runs",
    "recon.exceptions", "recon.invoices", "recon.settlement_lines", "recon.settlements",
}
ROOT = Path(__file__).parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run_ids(wh: Warehouse, **when) -> list[str]:
    with wh.read(**when) as con:
        return con.execute("SELECT coalesce(list(run_id ORDER BY run_id), []) FROM ops.runs").fetchone()[0]


def add_run(wh: Warehouse, run_id: str) -> None:
    with wh.write() as con:
        con.execute("INSERT INTO ops.runs (run_id, flow, started) VALUES (?, 'prices', now())", [run_id])


def commit_elsewhere(wh: Warehouse, run_id: str) -> None:
    """Another process commits a run while ours is in its transaction."""
    code = f"from pathlib import Path\nfrom tests.connectors.test_warehouse import add_run\nfrom omsync.connectors.warehouse import Warehouse\n" \
           f"add_run(Warehouse(Path({str(wh.path)!r})), {run_id!r})"
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV, cwd=ROOT, timeout=120)


def test_init_creates_the_contract_tables_without_keys(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    assert CONTRACT <= set(wh.init())
    assert wh.init() == wh.init()  # migrations apply once
    with wh.read() as con:
        assert con.execute("SELECT max(version) FROM main.schema_version").fetchone()[0] == MIGRATIONS[-1][0]
        assert con.execute("SELECT count(*) FROM main.schema_version").fetchone()[0] == len(MIGRATIONS)
    assert wh.catalog_path.exists() and not wh.path.exists(), "a catalog beside the setting, no single file"
    assert all("PRIMARY KEY" not in sql and "UNIQUE" not in sql for _, sql in MIGRATIONS), "DuckLake has no keys"


def test_a_committed_write_is_seen_and_a_failed_one_is_not(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    add_run(wh, "r1")
    with pytest.raises(RuntimeError):
        with wh.write() as con:
            con.execute("INSERT INTO ops.runs (run_id, flow, started) VALUES ('r2', 'prices', now())")
            raise RuntimeError("flow crashed mid-write")
    assert run_ids(wh) == ["r1"]


def replays(monkeypatch) -> list[Exception]:
    """The commit failures that made a write replay."""
    seen: list[Exception] = []
    original = Warehouse._replay
    monkeypatch.setattr(Warehouse, "_replay", lambda self, journal, failure: (seen.append(failure), original(self, journal, failure))[1])
    return seen


def test_a_write_that_conflicts_at_commit_is_replayed_and_nothing_is_lost(tmp_path, monkeypatch):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    wh.init()
    conflicts = replays(monkeypatch)
    with wh.write() as con:
        con.execute("UPDATE ops.runs SET outcome = 'OK'")
        with registered(con, "new_runs", pl.DataFrame({"run_id": ["mine"]})):
            con.execute("INSERT INTO ops.runs (run_id, flow, started) SELECT run_id, 'prices', now() FROM new_runs")
        commit_elsewhere(wh, "theirs")  # commits first: ours conflicts and is replayed
    assert run_ids(wh) == ["mine", "theirs"]
    assert len(conflicts) == 1, "our first commit conflicted"


def test_a_replay_is_refused_when_what_the_write_read_has_changed(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    wh.init()
    with pytest.raises(WarehouseConflict, match="changed"):
        with wh.write() as con:
            seen = con.execute("SELECT count(*) FROM ops.runs").fetchone()[0]
            con.execute("INSERT INTO ops.runs (run_id, flow, started) VALUES (?, 'prices', now())", [f"after-{seen}"])
            commit_elsewhere(wh, "theirs")
    assert run_ids(wh) == ["theirs"], "the decision made on a stale read is not committed"


def test_reading_a_missing_warehouse_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="OMSYNC_WAREHOUSE"):
        with Warehouse(tmp_path / "none.duckdb").read():
            pass
    assert not (tmp_path / "none.sqlite").exists(), "a reader creates nothing"


def test_an_unwritable_folder_names_the_setting(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(ConfigError, match="OMSYNC_WAREHOUSE"):
        Warehouse(blocked / "warehouse.duckdb").init()


def test_time_travel_answers_as_of_an_earlier_snapshot_or_moment(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    add_run(wh, "r1")
    snapshot = int(wh.snapshots()["snapshot_id"].max())
    moment = wh.snapshots()["snapshot_time"].max()
    time.sleep(0.05)
    add_run(wh, "r2")
    assert run_ids(wh) == ["r1", "r2"]
    assert run_ids(wh, snapshot=snapshot) == ["r1"]
    assert run_ids(wh, at=moment.isoformat()) == ["r1"]


def test_a_session_reads_one_snapshot_while_a_writer_commits(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    add_run(wh, "r1")
    with wh.read() as con:
        before = con.execute("SELECT count(*) FROM ops.runs").fetchone()[0]
        commit_elsewhere(wh, "r2")
        assert con.execute("SELECT count(*) FROM ops.runs").fetchone()[0] == before == 1
    assert run_ids(wh) == ["r1", "r2"]


def single_file_warehouse(path: Path, landing: Path) -> None:
    """A warehouse as the single-file code left it: one DuckDB file with keyed tables, a schema
    version, rows, and a landing view over Parquet beside it."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE main.schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)")
    for version, sql in MIGRATIONS[:4]:
        con.execute(sql.replace("run_id VARCHAR NOT NULL,  -- key", "run_id VARCHAR PRIMARY KEY,"))
        con.execute("INSERT INTO main.schema_version VALUES (?, now())", [version])
    con.execute("INSERT INTO ops.runs (run_id, flow, started, outcome) VALUES ('old-1', 'orders', now(), 'OK'), ('old-2', 'prices', now(), 'OK')")
    con.execute("INSERT INTO ops.watermarks VALUES ('orders', 'last_updated_after', '2026-11-30T00:00:00Z', now())")
    con.execute("INSERT INTO recon.invoices (invoice_id, payment_status, expected, updated_at) VALUES (7, 'paid', 12.5, now())")
    (landing / "amazon_orders").mkdir(parents=True)
    pl.DataFrame({"order_id": ["A", "B"]}).write_parquet(landing / "amazon_orders" / "b1.parquet")
    con.execute("CREATE SCHEMA landing")
    con.execute(f"CREATE VIEW landing.amazon_orders AS SELECT * FROM read_parquet('{landing.resolve()}/amazon_orders/*.parquet', filename = true)")
    con.close()


def test_a_single_file_warehouse_moves_into_the_lake_once_with_its_contents(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    single_file_warehouse(path, tmp_path / "warehouse.landing")
    before = path.read_bytes()
    wh = Warehouse(path)
    assert CONTRACT <= set(wh.init())
    assert run_ids(wh) == ["old-1", "old-2"]
    with wh.read() as con:
        assert con.execute("SELECT value FROM ops.watermarks").fetchall() == [("2026-11-30T00:00:00Z",)]
        assert con.execute("SELECT invoice_id, expected FROM recon.invoices").fetchall()[0][0] == 7
        assert con.execute("SELECT list(order_id ORDER BY order_id) FROM landing.amazon_orders").fetchone()[0] == ["A", "B"]
        assert con.execute("SELECT max(version) FROM main.schema_version").fetchone()[0] == MIGRATIONS[-1][0]
    assert path.read_bytes() == before, "the old file is left as it was"
    add_run(wh, "new")
    wh.init()
    assert run_ids(Warehouse(path)) == ["new", "old-1", "old-2"], "moved once, never again"


def test_landings_are_parquet_files_behind_a_view(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    with wh.write() as con:
        wh.land(con, "amazon_orders", pl.DataFrame({"order_id": ["A", "B"]}), "run-1")
    with wh.write() as con:
        wh.land(con, "amazon_orders", pl.DataFrame({"order_id": ["C"], "extra": [1]}), "run-2")
    assert sorted(p.name for p in (tmp_path / "warehouse.landing" / "amazon_orders").iterdir()) == ["run-1.parquet", "run-2.parquet"]
    with wh.read() as con:
        assert con.execute("SELECT list(order_id ORDER BY order_id) FROM landing.amazon_orders").fetchone()[0] == ["A", "B", "C"]
    assert not list(Path(wh.data_path).rglob("*.parquet")), "the lake holds the view, not the landed rows"


def test_a_landing_knows_when_the_same_rows_come_again(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    stock = pl.DataFrame({"item_id": [1, 2, 3], "on_hand": [5, 0, 7]})
    assert not wh.landed_already("om_inventory", stock)
    with wh.write() as con:
        wh.land(con, "om_inventory", stock, "run-1")
    assert wh.landed_already("om_inventory", stock.reverse()), "the same rows in another order"
    assert not wh.landed_already("om_inventory", stock.with_columns(on_hand=pl.Series([5, 1, 7])))
    assert not wh.landed_already("om_inventory", stock.cast({"on_hand": pl.Int32})), "another schema"
    assert not wh.landed_already("om_inventory", stock.head(2))
    with wh.write() as con:
        wh.land(con, "om_inventory", stock.head(2), "run-2")
    assert not wh.landed_already("om_inventory", stock), "only the newest landing counts"


def test_a_remembered_result_comes_back_only_for_the_same_inputs_parameters_and_code(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    stock = pl.DataFrame({"item_id": [1, 2, 3], "on_hand": [5, 0, 7]})
    key = computation_key({"stock": stock}, {"level": 1000}, [availability])
    assert computation_key({"stock": stock.reverse()}, {"level": 1000}, [availability]) == key, "the same rows in another order"
    others = [computation_key({"stock": stock.with_columns(on_hand=pl.Series([5, 1, 7]))}, {"level": 1000}, [availability]),
              computation_key({"stock": stock}, {"level": 999}, [availability]),
              computation_key({"stock": stock}, {"level": 1000}, [availability, amazon_items])]
    assert len({key, *others}) == 4

    result = {"quantities": pl.DataFrame({"sku": ["A", "B"], "quantity": [5, 7]}), "quarantine": pl.DataFrame({"key": ["C"]})}
    assert wh.recall("stock", key, ["quantities", "quarantine"]) is None, "nothing remembered yet"
    wh.remember("stock", key, result)
    recalled = wh.recall("stock", key, ["quantities", "quarantine"])
    assert recalled is not None and all(recalled[part].equals(frame) for part, frame in result.items())
    assert all(wh.recall("stock", other, ["quantities", "quarantine"]) is None for other in others)

    wh.remember("stock", others[0], {"quantities": result["quantities"]})
    assert wh.recall("stock", key, ["quantities", "quarantine"]) is None, "parts of two computations never mix"
    assert wh.recall("stock", others[0], ["quantities", "quarantine"]) is None

    wh.remember("stock", key, result)
    (wh.cache_dir / "stock.quantities.parquet").write_bytes(b"cut short by a full disk")
    assert wh.recall("stock", key, ["quantities", "quarantine"]) is None, "a damaged file is computed again"


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from omsync.connectors.warehouse import Warehouse
    wh = Warehouse(Path(sys.argv[1]), sys.argv[4] or None, sys.argv[5] or None)
    for i in range(int(sys.argv[3])):
        with wh.write() as con:
            con.execute("INSERT INTO ops.runs (run_id, flow, started) VALUES (?, ?, now())", [f"{sys.argv[2]}-{i}", sys.argv[2]])
            con.execute("UPDATE ops.runs SET outcome = 'OK' WHERE run_id = ?", [f"{sys.argv[2]}-{i}"])
    """
)

READER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from omsync.connectors.warehouse import Warehouse
    # an analyst's long session: opened before the writers start, held until they are done
    wh = Warehouse(Path(sys.argv[1]), sys.argv[2] or None, sys.argv[3] or None)
    with wh.read() as con:
        before = con.execute("SELECT count(*) FROM ops.runs").fetchone()[0]
        print("opened", flush=True)
        sys.stdin.readline()
        still = con.execute("SELECT count(*) FROM ops.runs").fetchone()[0]
    with wh.read() as fresh:
        after = fresh.execute("SELECT count(*) FILTER (outcome = 'OK') FROM ops.runs").fetchone()[0]
    print(before, still, after, flush=True)
    """
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def lake(request, tmp_path) -> Warehouse:
    """A warehouse with its catalog in SQLite beside it, or in PostgreSQL with a data path apart."""
    if request.param == "sqlite":
        return Warehouse(tmp_path / "warehouse.duckdb")
    return Warehouse(tmp_path / "warehouse.duckdb", request.getfixturevalue("pg_url"), str(tmp_path / "shared-files"))


def test_three_writer_processes_and_a_long_reader_all_succeed(lake):
    lake.init()
    where = [str(lake.path), lake.catalog or "", lake.data or ""]
    reader = subprocess.Popen([sys.executable, "-c", READER, *where], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV)
    assert reader.stdout.readline().strip() == "opened"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, where[0], name, "10", *where[1:]], stderr=subprocess.PIPE, text=True, env=ENV)
               for name in ("orders", "inventory", "prices")]
    for writer in writers:
        _, err = writer.communicate(timeout=240)
        assert writer.returncode == 0, err
    out, _ = reader.communicate("\n", timeout=60)
    assert reader.returncode == 0
    assert tuple(map(int, out.split())) == (0, 0, 30), "the reader kept its snapshot; every commit landed, once"


def test_the_catalog_in_postgresql_keeps_the_data_in_the_shared_path(pg_url, tmp_path):
    shared = tmp_path / "shared-files"
    machine_a = Warehouse(tmp_path / "a" / "warehouse.duckdb", pg_url, str(shared))
    machine_b = Warehouse(tmp_path / "b" / "warehouse.duckdb", pg_url, str(shared))
    for i in range(12):  # beyond DuckLake's inlining: the rows go to Parquet files
        with machine_a.write() as con:
            con.execute("INSERT INTO ops.runs (run_id, flow, started) SELECT 'a-' || i, 'orders', now() FROM range(?) t(i)", [100])
    assert len(run_ids(machine_b)) == 1200 and list(shared.rglob("*.parquet"))
    assert not machine_a.catalog_path.exists() and not machine_b.catalog_path.exists()
