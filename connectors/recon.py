"""The warehouse's reconciliation tables (schema `recon`) and the settlement reports already read."""

from __future__ import annotations

import re

import duckdb
import polars as pl

from connectors.frames import registered
from connectors.warehouse import Warehouse


def applied_settlements(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Settlement ids applied so far, with where each came from."""
    return dict(con.execute("SELECT settlement_id, coalesce(source_file, report_id, '') FROM recon.settlements").fetchall())


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
    record_invoices(con, invoices)
    record_exceptions(con, exceptions)


def recorded_fees(con: duckdb.DuckDBPyConnection, invoice_ids: pl.Series) -> pl.DataFrame:
    """What recon.invoices holds of these invoices' fees (invoice_id, fees, last_settlement_id)."""
    with registered(con, "wanted_invoices", pl.DataFrame({"invoice_id": invoice_ids})):
        return con.execute("SELECT invoice_id, fees, last_settlement_id FROM recon.invoices SEMI JOIN wanted_invoices USING (invoice_id)").pl()


def record_invoices(con: duckdb.DuckDBPyConnection, invoices: pl.DataFrame) -> None:
    """Upsert each invoice's reconciled state, its fees as given (transforms.settlement_records.accumulated_fees
    adds them up); what a row does not know (NULL) stays as recorded."""
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
                fees = excluded.fees,
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
