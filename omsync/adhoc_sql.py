"""Read-only ad hoc SQL on the published warehouse snapshot."""

from __future__ import annotations

import io
from typing import Literal

import duckdb
import polars as pl

from connectors.warehouse import Warehouse
from omsync.errors import UserError, WriteRefused

OutputFormat = Literal["table", "csv", "json", "parquet"]
READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def run_query(warehouse: Warehouse, sql: str) -> pl.DataFrame:
    """Run one read-only statement; a write (or anything but SELECT/EXPLAIN) is refused before it runs."""
    with warehouse.read() as con:
        try:
            return _run(con, sql)
        except duckdb.Error as exc:
            raise UserError(duckdb_message(exc)) from None


def duckdb_message(exc: duckdb.Error) -> str:
    """DuckDB's message on one line (its caret drawing of the statement left out)."""
    lines = str(exc).split("\n\nLINE ")[0].splitlines()
    return " ".join(line.strip() for line in lines if line.strip())


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise WriteRefused(f"give exactly one statement, got {len(statements)}")
    kind = statements[0].type
    if kind not in READ_STATEMENTS:
        raise WriteRefused(
            f"{kind.name} statements are refused: `omsync sql` is read-only (flows own the warehouse)"
        )
    return con.execute(sql).pl()


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
