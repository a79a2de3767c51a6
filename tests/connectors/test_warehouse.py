"""The warehouse: migrations, published snapshots, the write lock, Parquet landings, the cache, real processes."""

import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from connectors.warehouse import Warehouse, computation_key
from omsync.errors import ConfigError, WarehouseBusy
from transforms import amazon_items, availability

CONTRACT = {
    "ops.listing_state", "ops.orders", "ops.quarantine", "ops.runs",
    "recon.exceptions", "recon.invoices", "recon.settlement_lines", "recon.settlements",
}


def test_init_creates_the_contract_tables_and_publishes_them(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    assert CONTRACT <= set(wh.init())
    assert wh.init() == wh.init()  # migrations apply once
    with wh.read() as con:
        assert con.execute("SELECT max(version) FROM main.schema_version").fetchone()[0] >= 1


def test_a_committed_write_is_published_and_a_failed_one_is_not(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    with wh.write() as con:
        con.execute("INSERT INTO ops.runs (run_id, flow, started) VALUES ('r1', 'prices', now())")
    with pytest.raises(RuntimeError):
        with wh.write() as con:
            con.execute("INSERT INTO ops.runs (run_id, flow, started) VALUES ('r2', 'prices', now())")
            raise RuntimeError("flow crashed mid-write")
    with wh.read() as con:
        assert con.execute("SELECT list(run_id) FROM ops.runs").fetchone()[0] == ["r1"]


def test_reading_a_missing_warehouse_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="OMSYNC_WAREHOUSE"):
        with Warehouse(tmp_path / "none.duckdb").read():
            pass


def test_an_unwritable_folder_names_the_setting(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(ConfigError, match="OMSYNC_WAREHOUSE"):
        Warehouse(blocked / "warehouse.duckdb").init()


def _hold_lock(path: str, ready, release) -> None:
    with Warehouse(Path(path)).write():
        ready.set()
        release.wait(30)


def test_a_writer_waits_for_the_lock_then_gives_a_clear_error(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).init()
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(path), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match="locked by another omsync process"):
            with Warehouse(path, lock_timeout=0.5).write():
                pass
        assert time.monotonic() - started >= 0.5
    finally:
        release.set()
        holder.join(30)
    with Warehouse(path, lock_timeout=5).write() as con:  # free again
        con.execute("SELECT 1")


def test_landings_are_parquet_files_behind_a_view(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    with wh.write() as con:
        wh.land(con, "amazon_orders", pl.DataFrame({"order_id": ["A", "B"]}), "run-1")
    with wh.write() as con:
        wh.land(con, "amazon_orders", pl.DataFrame({"order_id": ["C"], "extra": [1]}), "run-2")
    assert sorted(p.name for p in (tmp_path / "warehouse.landing" / "amazon_orders").iterdir()) == ["run-1.parquet", "run-2.parquet"]
    with wh.read() as con:
        assert con.execute("SELECT list(order_id ORDER BY order_id) FROM landing.amazon_orders").fetchone()[0] == ["A", "B", "C"]
    # the snapshot holds the view, not the rows: it stays small however much is landed
    assert (tmp_path / "warehouse.duckdb").stat().st_size < 2_000_000


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
    from connectors.warehouse import Warehouse
    wh = Warehouse(Path(sys.argv[1]))
    for i in range(int(sys.argv[3])):
        with wh.write() as con:
            con.execute("INSERT INTO ops.runs (run_id, flow, started) VALUES (?, ?, now())", [f"{sys.argv[2]}-{i}", sys.argv[2]])
    """
)

READER = textwrap.dedent(
    """
    import sys, time, duckdb
    # an analyst's long session: opened before the writers start, held until they are done
    con = duckdb.connect(sys.argv[1], read_only=True)
    before = con.execute("SELECT count(*) FROM ops.runs").fetchone()[0]
    print("opened", flush=True)
    sys.stdin.readline()
    still = con.execute("SELECT count(*) FROM ops.runs").fetchone()[0]
    con.close()
    fresh = duckdb.connect(sys.argv[1], read_only=True)
    after = fresh.execute("SELECT count(*) FROM ops.runs").fetchone()[0]
    print(before, still, after, flush=True)
    """
)


def test_two_writer_processes_and_a_long_lived_reader_all_succeed(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).init()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    reader = subprocess.Popen([sys.executable, "-c", READER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert reader.stdout.readline().strip() == "opened"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "15"], stderr=subprocess.PIPE, text=True, env=env)
        for name in ("orders", "inventory")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    out, _ = reader.communicate("\n", timeout=60)
    assert reader.returncode == 0
    before, still, after = map(int, out.split())
    assert (before, still, after) == (0, 0, 30)


def test_the_duckdb_cli_can_open_the_published_file(tmp_path):
    cli = Path(sys.executable).with_name("duckdb")
    assert cli.exists(), "duckdb-cli must be installed with the project"
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).init()
    shown = subprocess.run([str(cli), "-readonly", "-csv", "-noheader", str(path), "SELECT count(*) FROM recon.settlements"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "0"


def test_read_latest_sees_the_working_file_and_publishes_nothing(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    wh.init()
    published = (tmp_path / "warehouse.duckdb").stat().st_mtime_ns
    with wh.read_latest() as con:
        assert con.execute("SELECT count(*) FROM ops.runs").fetchone()[0] == 0
    assert (tmp_path / "warehouse.duckdb").stat().st_mtime_ns == published
