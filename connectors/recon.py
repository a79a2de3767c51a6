"""The warehouse's reconciliation tables (schema `recon`) and the settlement reports already read."""

from __future__ import annotations

import re

import duckdb
import polars as pl

from omsync.connectors.frames import registered
from omsync.connectors.warehouse import Warehouse


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
        con.execute("DELETE FROM recon.settlements WHERE settlement_id IN (SELECT settlement_id FROM settlement_row)")
        con.execute("INSERT INTO recon.settlements BY NAME SELECT *, now() AS applied_at FROM settlement_row")
    if settlement["balanced"].all():  # a delivery that balances supersedes an earlier one that did not
        con.execute("DELETE FROM recon.exceptions WHERE flow = 'settlement' AND kind = 'unbalanced' AND key = ?", [settlement_id])
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
            MERGE INTO recon.invoices AS i USING (SELECT *, now() AS updated_at FROM invoice_rows) AS x ON i.invoice_id = x.invoice_id
            WHEN MATCHED THEN UPDATE SET
                invoice_no = x.invoice_no, order_id = x.order_id, sales_order_id = x.sales_order_id,
                invoice_date = x.invoice_date, due_date = x.due_date, currency = x.currency,
                expected = x.expected, settled = coalesce(x.settled, i.settled),
                fees = x.fees,
                difference = coalesce(x.difference, i.difference),
                payment_status = x.payment_status, paid_at = coalesce(x.paid_at, i.paid_at),
                reason = x.reason,
                last_settlement_id = coalesce(x.last_settlement_id, i.last_settlement_id),
                updated_at = now()
            WHEN NOT MATCHED THEN INSERT BY NAME
            """
        )


def record_exceptions(con: duckdb.DuckDBPyConnection, exceptions: pl.DataFrame) -> None:
    """What needs a person; the same exception found again keeps its first date."""
    if not exceptions.height:
        return
    with registered(con, "exception_rows", exceptions):
        con.execute(
            """
            MERGE INTO recon.exceptions AS e USING (SELECT 'settlement' AS flow, *, now() AS created_at FROM exception_rows) AS x
                ON e.flow = x.flow AND e.kind = x.kind AND e.key = x.key
            WHEN MATCHED THEN UPDATE SET amount = x.amount, reason = x.reason, raw = x.raw
            WHEN NOT MATCHED THEN INSERT BY NAME
            """
        )


def record_report(con: duckdb.DuckDBPyConnection, report_id: str, created_time: str | None, settlement_ids: list[str], outcome: str) -> None:
    con.execute("DELETE FROM ops.settlement_reports WHERE report_id = ?", [report_id])
    con.execute("INSERT INTO ops.settlement_reports VALUES (?, ?, ?, ?, now())",
                [report_id, created_time, ",".join(settlement_ids), outcome])
