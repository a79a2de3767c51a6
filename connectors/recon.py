"""The warehouse's reconciliation tables (schema `recon`) and the settlement reports already read."""

from __future__ import annotations

import re

import duckdb
import polars as pl

from connectors.frames import registered
from connectors.warehouse import Warehouse


def applied_settlements(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, bool]]:
    """Settlement ids applied so far, with where each came from and whether it balanced."""
    rows = con.execute("SELECT settlement_id, coalesce(source_file, report_id, ''), coalesce(balanced, false) FROM recon.settlements").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def applied_lines(con: duckdb.DuckDBPyConnection, settlement_id: str) -> pl.DataFrame:
    """The lines of a settlement as applied."""
    return con.execute("SELECT * FROM recon.settlement_lines WHERE settlement_id = ?", [settlement_id]).pl()


def read_reports(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Report ids whose settlements are recorded."""
    return {r[0] for r in con.execute("SELECT report_id FROM ops.settlement_reports").fetchall()}


def record_settlement(warehouse: Warehouse, con: duckdb.DuckDBPyConnection, settlement: pl.DataFrame, lines: pl.DataFrame,
                      invoices: pl.DataFrame, exceptions: pl.DataFrame) -> None:
    """One applied settlement: its row, every line (as Parquet, one file per settlement), the
    invoices it touched and its exceptions."""
    [settlement_id] = settlement["settlement_id"].to_list()
    warehouse.land(con, "settlement_lines", lines, re.sub(r"[^A-Za-z0-9_-]", "_", settlement_id))
    con.execute("CREATE OR REPLACE VIEW recon.settlement_lines AS SELECT * EXCLUDE (filename) FROM landing.settlement_lines")
    with registered(con, "settlement_row", settlement):
        con.execute("INSERT OR REPLACE INTO recon.settlements BY NAME SELECT *, now() AS applied_at FROM settlement_row")
    if settlement["balanced"].all():  # a delivery that balances supersedes an earlier one that did not
        con.execute("DELETE FROM recon.exceptions WHERE flow = 'settlement' AND kind = 'unbalanced' AND key = ?", [settlement_id])
    record_invoices(con, invoices)
    record_exceptions(con, exceptions)


def record_invoices(con: duckdb.DuckDBPyConnection, invoices: pl.DataFrame) -> None:
    """Upsert each invoice's reconciled state; fees add up over the settlements that paid it."""
    if not invoices.height:
        return
    with registered(con, "invoice_rows", invoices):
        con.execute(
            """
            INSERT INTO recon.invoices BY NAME SELECT *, now() AS updated_at FROM invoice_rows
            ON CONFLICT (invoice_id) DO UPDATE SET
                invoice_no = excluded.invoice_no, order_id = excluded.order_id, sales_order_id = excluded.sales_order_id,
                invoice_date = excluded.invoice_date, due_date = excluded.due_date, currency = excluded.currency,
                expected = excluded.expected, settled = coalesce(excluded.settled, recon.invoices.settled),
                fees = CASE WHEN excluded.last_settlement_id IS NULL THEN recon.invoices.fees
                            WHEN recon.invoices.last_settlement_id = excluded.last_settlement_id THEN excluded.fees
                            ELSE coalesce(recon.invoices.fees, 0) + excluded.fees END,
                difference = coalesce(excluded.difference, recon.invoices.difference),
                payment_status = excluded.payment_status, paid_at = coalesce(excluded.paid_at, recon.invoices.paid_at),
                reason = excluded.reason,
                last_settlement_id = coalesce(excluded.last_settlement_id, recon.invoices.last_settlement_id),
                updated_at = excluded.updated_at
            """
        )


def record_exceptions(con: duckdb.DuckDBPyConnection, exceptions: pl.DataFrame) -> None:
    """What needs a person; the same exception found again keeps its first date."""
    if not exceptions.height:
        return
    with registered(con, "exception_rows", exceptions):
        con.execute(
            """
            INSERT INTO recon.exceptions BY NAME SELECT 'settlement' AS flow, *, now() AS created_at FROM exception_rows
            ON CONFLICT (flow, kind, key) DO UPDATE SET amount = excluded.amount, reason = excluded.reason, raw = excluded.raw
            """
        )


def record_report(con: duckdb.DuckDBPyConnection, report_id: str, created_time: str | None, settlement_ids: list[str], outcome: str) -> None:
    con.execute("INSERT OR REPLACE INTO ops.settlement_reports VALUES (?, ?, ?, ?, now())",
                [report_id, created_time, ",".join(settlement_ids), outcome])
