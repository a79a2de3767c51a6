"""Moving a warehouse of the earlier single-file format (one DuckDB file) into the DuckLake, once.

The lake is brought to the file's schema version, every table is copied by name in one
transaction (marked by version 0 in `main.schema_version`, so a second importer finds it done),
the views (landings, settlement lines) are defined again, and the newer migrations follow as
for any warehouse. The file is left where it was, untouched."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from omsync.connectors.om import sql_literal

if TYPE_CHECKING:
    from omsync.connectors.warehouse import Warehouse

IMPORTED = 0  # the schema_version row that says the single-file warehouse was moved in
LEGACY = "single_file"


def import_single_file(warehouse: "Warehouse", con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, int]:
    """Copy the tables and views of the DuckDB file at `path` into the lake; returns rows per table."""
    from omsync.connectors.warehouse import _migrate, _retrying, schema_version

    con.execute(f"ATTACH {sql_literal(str(path))} AS {LEGACY} (READ_ONLY)")
    try:
        version = con.execute(f"SELECT coalesce(max(version), 0) FROM {LEGACY}.main.schema_version").fetchone()[0]
        _retrying(warehouse, lambda: _migrate(con, up_to=version))
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name IN ('ops', 'recon') "
            "ORDER BY 1, 2", [LEGACY]).fetchall()
        views = con.execute(
            "SELECT schema_name, sql FROM duckdb_views() WHERE database_name = ? AND schema_name IN ('ops', 'recon', 'landing') "
            "ORDER BY schema_name = 'landing' DESC, view_name", [LEGACY]).fetchall()
        copied: dict[str, int] = {}

        def copy() -> None:
            con.begin()
            schema_version(con)
            if con.execute("SELECT count(*) FROM main.schema_version WHERE version = ?", [IMPORTED]).fetchone()[0]:
                con.rollback()
                return
            for schema, table in tables:
                con.execute(f"INSERT INTO {schema}.{table} BY NAME SELECT * FROM {LEGACY}.{schema}.{table}")
                copied[f"{schema}.{table}"] = con.execute(f"SELECT count(*) FROM {LEGACY}.{schema}.{table}").fetchone()[0]
            con.execute("CREATE SCHEMA IF NOT EXISTS landing")
            for _, sql in views:
                con.execute(sql.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
            con.execute("INSERT INTO main.schema_version VALUES (?, now())", [IMPORTED])
            con.commit()

        _retrying(warehouse, copy)
        return copied
    finally:
        con.execute(f"DETACH {LEGACY}")
