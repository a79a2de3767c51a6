"""Hostile OM data written as an OM administrator could: SQLite stores any value in any column."""

import json
import subprocess
import sys

import polars as pl

from tests.flows.conftest import world  # noqa: F401  (the flow fixtures, shared)


def raw_sql(world, statement: str, params: list) -> None:
    """One statement straight to the OM's own driver, bypassing DuckDB's typing (SQLite keeps 'abc' in
    an INTEGER column); {name} is the table. PostgreSQL goes through DuckDB: it enforces types itself."""
    if world.om.dialect == "sqlite":
        # In a process of its own: two SQLite libraries in one process (Python's and DuckDB's) clear each
        # other's POSIX locks on the same file, which once corrupted the OM here ("disk image is malformed").
        subprocess.run([sys.executable, "-c", _WRITE, str(world.om.sqlite_path), statement.format_map(_Plain()), json.dumps(params)],
                       check=True, timeout=60)
    else:
        world.om_execute(lambda t: statement.format_map(_Qualified(t)), params)


_WRITE = """
import json, sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    db.execute(sys.argv[2], json.loads(sys.argv[3]))
    db.commit()
    # DuckDB's SQLite reads the database file, not another library's WAL: hand the change over.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
"""


class _Plain(dict):
    def __missing__(self, name: str) -> str:
        return name


class _Qualified(dict):
    def __init__(self, table_ref) -> None:
        super().__init__()
        self.table_ref = table_ref

    def __missing__(self, name: str) -> str:
        return self.table_ref(name)


def item_id(world, sku: str) -> int:
    return world.om.read("SELECT item_id FROM item WHERE item_code = ?", [sku])["item_id"].item()


def quarantined(world, flow: str) -> pl.DataFrame:
    with world.warehouse.read() as con:
        return con.execute("SELECT key, raw_value, reason FROM ops.quarantine WHERE flow = ? AND resolved_at IS NULL",
                           [flow]).pl()
