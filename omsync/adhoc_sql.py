"""Ad hoc SQL a person typed, confined to the warehouse: read-only, one snapshot, no other file.

The confinement is DuckDB's own: the session attaches the warehouse read-only, then disables
external access except for the warehouse's data and landing folders and locks its configuration,
so no statement can read or write another file (`read_csv('/etc/passwd')`, `COPY … TO`,
`read_blob` of the OM). Two things DuckDB's switch does not cover are refused before running: a
statement other than SELECT (also inside EXPLAIN, whose ANALYZE runs it) and the SQLite and
PostgreSQL scanners' functions, which open files and servers themselves (`sqlite_scan` of the OM).
"""

from __future__ import annotations

import importlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl

from omsync.connectors.om import sql_literal
from omsync.connectors.warehouse import ALIAS, Warehouse
from omsync.core.errors import ConfigError, UserError, WriteRefused

OutputFormat = Literal["table", "csv", "json", "parquet"]
EXPLAIN = re.compile(r"\s*EXPLAIN\b(?:\s+ANALY[SZ]E\b)?(?:\s*\([^)]*\))?(?P<inner>.*)", re.IGNORECASE | re.DOTALL)
SCANNERS = "function_name LIKE 'sqlite\\_%' ESCAPE '\\' OR function_name LIKE 'postgres\\_%' ESCAPE '\\'"


def confinement(warehouse: Warehouse) -> list[str]:
    """The statements that shut a session in the warehouse's own folders, for good."""
    folders = [f"{warehouse.data_path.rstrip('/')}/", f"{warehouse.landing_dir.resolve()}/"]
    return [f"SET allowed_directories = [{', '.join(sql_literal(f) for f in folders)}]",
            "SET enable_external_access = false", "SET lock_configuration = true"]


def confined(warehouse: Warehouse, snapshot: int | None = None, at: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only session on one snapshot of the warehouse that can touch no other file."""
    if not warehouse.on_postgres and not warehouse.catalog_path.exists():
        raise ConfigError(f"OMSYNC_WAREHOUSE: no warehouse at {warehouse.catalog_path} yet; run `omsync om init` or any flow")
    con = warehouse.connect(read_only=True, snapshot=snapshot, at=at)
    for statement in confinement(warehouse):
        con.execute(statement)
    return con


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """One SELECT (or EXPLAIN of one SELECT) that calls no scanner function; anything else is refused."""
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise WriteRefused(f"give exactly one statement, got {len(statements)}")
    kind, query = statements[0].type, sql
    if kind == duckdb.StatementType.EXPLAIN:
        query = EXPLAIN.fullmatch(sql).group("inner")
        inner = con.extract_statements(query)
        kind = inner[0].type if len(inner) == 1 else kind
    if kind != duckdb.StatementType.SELECT:
        raise WriteRefused(f"{kind.name} statements are refused: `omsync sql` is read-only, it runs one SELECT (flows own the warehouse)")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        raise WriteRefused(f"not a plain query: {tree.get('error_message', 'unreadable')}")
    scanners = {r[0] for r in con.execute(f"SELECT DISTINCT function_name FROM duckdb_functions() WHERE {SCANNERS}").fetchall()}
    used = sorted(set(_function_names(tree)) & scanners)
    if used:
        raise WriteRefused(f"{', '.join(used)} reaches outside the warehouse: `omsync sql` reads the warehouse only")


def _function_names(node: object):
    if isinstance(node, dict):
        if isinstance(node.get("function_name"), str):
            yield node["function_name"].lower()
        for value in node.values():
            yield from _function_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _function_names(value)


def run_query(warehouse: Warehouse, sql: str, snapshot: int | None = None, at: str | None = None) -> pl.DataFrame:
    """Run one read-only statement on the newest snapshot, or on the one given by number or time."""
    con = confined(warehouse, snapshot, at)
    try:
        check_statement(con, sql)
        return con.execute(sql).pl()
    except duckdb.PermissionException as exc:
        raise WriteRefused(f"refused: {str(exc).splitlines()[0]} (`omsync sql` reads the warehouse only)") from None
    except duckdb.Error as exc:
        raise UserError(f"the query failed: {duckdb_message(exc)}") from None
    finally:
        con.close()


def duckdb_message(exc: duckdb.Error) -> str:
    """DuckDB's message on one line (its caret drawing of the statement left out)."""
    lines = str(exc).split("\n\nLINE ")[0].splitlines()
    return " ".join(line.strip() for line in lines if line.strip())


def render(frame: pl.DataFrame, fmt: OutputFormat) -> bytes:
    """The frame as CSV, JSON (an array of row objects) or Parquet bytes."""
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.write_csv(buffer)
    elif fmt == "json":
        frame.write_json(buffer)
    elif fmt == "parquet":
        frame.write_parquet(buffer)
    else:
        raise ValueError(f"no byte rendering for {fmt}")
    return buffer.getvalue()


def shell_command(warehouse: Warehouse, cli: Path | None = None) -> list[str]:
    """The official DuckDB CLI (duckdb-cli, the version of the extensions) with the warehouse attached
    read-only, file access confined as for `omsync sql`, and its own file and shell commands off
    (`.safe_mode`). It is the person's own shell: the scanners' functions can still open the SQLite
    files they can read, which the statement check of `omsync sql` refuses."""
    if not warehouse.on_postgres and not warehouse.catalog_path.exists():
        raise ConfigError(f"OMSYNC_WAREHOUSE: no warehouse at {warehouse.catalog_path} yet; run `omsync om init` or any flow")
    cli = cli or Path(sys.executable).with_name("duckdb")
    if not cli.exists():
        raise ConfigError(f"the DuckDB CLI is not installed at {cli}; run `make install`")
    scanner = "postgres_scanner" if warehouse.on_postgres else "sqlite_scanner"
    setup = [f"LOAD {sql_literal(str(extension_binary(name)))}" for name in (scanner, "ducklake")]
    setup += [f"ATTACH {sql_literal(warehouse.ducklake_url())} AS {ALIAS} (READ_ONLY)", f"USE {ALIAS}", "SET TimeZone = 'UTC'"]
    setup += confinement(warehouse)[:-1]  # `.safe_mode` locks the configuration itself
    return [str(cli), "-no-init", "-cmd", "; ".join(setup) + ";", "-cmd", ".safe_mode"]


def extension_binary(name: str) -> Path:
    """The extension file of a PyPI package `duckdb-extension-<name>`, for this DuckDB version."""
    package = importlib.import_module(f"duckdb_extension_{name}")
    binary = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not binary.exists():
        raise ConfigError(f"the {name} extension for DuckDB {duckdb.__version__} is not installed; run `make install`")
    return binary
