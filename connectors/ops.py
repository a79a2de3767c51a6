"""The warehouse's ops tables: runs, quarantine and listing state, written set-based."""

from __future__ import annotations

from typing import Literal

import duckdb
import polars as pl

from connectors.frames import registered
from omsync.schemas import STATE_SCHEMAS

Attribute = Literal["quantity", "price"]


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, flow: str, prefect_run_id: str | None) -> None:
    con.execute("INSERT INTO ops.runs (run_id, flow, prefect_run_id, started, outcome) VALUES (?, ?, ?, now(), 'RUNNING')",
                [run_id, flow, prefect_run_id])


def mark_crashed(con: duckdb.DuckDBPyConnection, flow: str, run_id: str) -> None:
    """Runs of `flow` still RUNNING were killed: only the run holding the flow's lease calls this."""
    con.execute("UPDATE ops.runs SET outcome = 'CRASHED', message = 'stopped without finishing; noticed at ' || "
                "strftime(now(), '%Y-%m-%d %H:%M:%S UTC') || ' by run ' || ? WHERE flow = ? AND outcome = 'RUNNING'",
                [run_id, flow])


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, count_in: int, count_out: int, outcome: str, message: str) -> None:
    con.execute("UPDATE ops.runs SET finished = now(), count_in = ?, count_out = ?, outcome = ?, message = ? WHERE run_id = ?",
                [count_in, count_out, outcome, message, run_id])


def record_quarantine(con: duckdb.DuckDBPyConnection, flow: str, found: pl.DataFrame, scope: str | None = None,
                      complete: bool = True) -> None:
    """Upsert this run's bad input (key, raw_value, reason); when `found` is a complete scan of the flow
    (not one batch of it), what it no longer finds is resolved."""
    with registered(con, "found_rows", found.unique(["key", "reason"], keep="last")):
        con.execute(
            """
            MERGE INTO ops.quarantine AS q USING found_rows AS f ON q.flow = ? AND q.key = f.key AND q.reason = f.reason
            WHEN MATCHED THEN UPDATE SET raw_value = f.raw_value, last_seen = now(), resolved_at = NULL
            WHEN NOT MATCHED THEN INSERT (flow, key, raw_value, reason, first_seen, last_seen, resolved_at)
                VALUES (?, f.key, f.raw_value, f.reason, now(), now(), NULL)
            """,
            [flow, flow],
        )
        if not complete:
            return
        con.execute(
            """
            UPDATE ops.quarantine SET resolved_at = now()
            WHERE flow = ? AND resolved_at IS NULL AND (? IS NULL OR reason LIKE ?)
              AND (key, reason) NOT IN (SELECT key, reason FROM found_rows)
            """,
            [flow, scope, f"{scope}%"],
        )


def read_listing_state(con: duckdb.DuckDBPyConnection, attribute: Attribute) -> pl.DataFrame:
    schema = STATE_SCHEMAS[attribute]
    return con.execute(f"SELECT {', '.join(schema)} FROM ops.listing_state").pl().cast(schema)


def record_sent(con: duckdb.DuckDBPyConnection, attribute: Attribute, sent: pl.DataFrame) -> None:
    """Remember what went out (sku, product_type, value, feed_id, message_id) as PENDING; what Amazon accepted stays as it was."""
    # An UPDATE of the known SKUs and an INSERT of the new ones (DuckLake has no key to conflict on).
    with registered(con, "sent_rows", sent):
        con.execute(
            f"""
            UPDATE ops.listing_state AS s SET product_type = r.product_type, {attribute}_sent = r.value,
                {attribute}_feed_id = r.feed_id, {attribute}_message_id = r.message_id, {attribute}_verdict = 'PENDING',
                {attribute}_issues = NULL, {attribute}_sent_at = now(), {attribute}_verdict_at = NULL
            FROM sent_rows r WHERE s.sku = r.sku
            """
        )
        con.execute(
            f"""
            INSERT INTO ops.listing_state (sku, product_type, {attribute}_sent, {attribute}_feed_id, {attribute}_message_id,
                                           {attribute}_verdict, {attribute}_sent_at)
            SELECT sku, product_type, value, feed_id, message_id, 'PENDING', now() FROM sent_rows
            WHERE sku NOT IN (SELECT sku FROM ops.listing_state)
            """
        )


def record_verdicts(con: duckdb.DuckDBPyConnection, attribute: Attribute, feed_id: str, verdicts: pl.DataFrame) -> None:
    """Amazon's verdict on one submission (sku, verdict, issues); ACCEPTED makes the sent value the accepted one.
    Rows already superseded by a later submission are left to that one."""
    with registered(con, "verdict_rows", verdicts):
        con.execute(
            f"""
            UPDATE ops.listing_state AS s SET
                {attribute}_verdict = v.verdict, {attribute}_issues = v.issues, {attribute}_verdict_at = now(),
                {attribute}_accepted = CASE WHEN v.verdict = 'ACCEPTED' THEN s.{attribute}_sent ELSE s.{attribute}_accepted END
            FROM verdict_rows v
            WHERE s.sku = v.sku AND s.{attribute}_feed_id = ?
            """,
            [feed_id],
        )


def pending_feeds(con: duckdb.DuckDBPyConnection, attribute: Attribute) -> list[str]:
    """Submissions of earlier runs that never got their verdict (the run stopped while waiting)."""
    rows = con.execute(
        f"SELECT DISTINCT {attribute}_feed_id FROM ops.listing_state WHERE {attribute}_verdict = 'PENDING' AND {attribute}_feed_id IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def skus_of_feed(con: duckdb.DuckDBPyConnection, attribute: Attribute, feed_id: str) -> pl.DataFrame:
    return con.execute(f"SELECT sku, {attribute}_message_id AS message_id FROM ops.listing_state WHERE {attribute}_feed_id = ?", [feed_id]).pl()



def record_held_prices(con: duckdb.DuckDBPyConnection, held: pl.DataFrame) -> None:
    """Price changes held for approval (sku, price, previous, change_percent); a new price restarts the wait."""
    with registered(con, "held_rows", held):
        con.execute(
            """
            MERGE INTO ops.price_guard AS g USING held_rows AS h ON g.sku = h.sku
            WHEN MATCHED THEN UPDATE SET
                status = CASE WHEN g.price = h.price AND g.status <> 'RELEASED' THEN g.status ELSE 'HELD' END,
                held_at = CASE WHEN g.price = h.price AND g.status <> 'RELEASED' THEN g.held_at ELSE now() END,
                approved_at = CASE WHEN g.price = h.price AND g.status <> 'RELEASED' THEN g.approved_at END,
                price = h.price, previous = h.previous, change_percent = h.change_percent, released_at = NULL
            WHEN NOT MATCHED THEN INSERT (sku, price, previous, change_percent, status, held_at)
                VALUES (h.sku, h.price, h.previous, h.change_percent, 'HELD', now())
            """
        )


def approved_prices(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.execute("SELECT sku, price FROM ops.price_guard WHERE status = 'APPROVED'").pl()


def approve_prices(con: duckdb.DuckDBPyConnection, skus: list[str]) -> pl.DataFrame:
    """A person releases held prices; the next prices run sends them. Returns what was approved."""
    # DuckLake has no UPDATE … RETURNING: read the held rows, then approve them, in one transaction.
    approved = con.execute("SELECT sku, price, previous, change_percent FROM ops.price_guard "
                           "WHERE status = 'HELD' AND sku IN (SELECT unnest(?))", [skus]).pl()
    con.execute("UPDATE ops.price_guard SET status = 'APPROVED', approved_at = now() WHERE status = 'HELD' AND sku IN (SELECT unnest(?))",
                [approved["sku"].to_list()])
    return approved.sort("sku")


def release_prices(con: duckdb.DuckDBPyConnection, skus: pl.Series) -> None:
    """Approved prices that have now been sent (a handful: pass only those)."""
    if skus.is_empty():
        return
    con.execute("UPDATE ops.price_guard SET status = 'RELEASED', released_at = now() WHERE status = 'APPROVED' AND sku IN (SELECT unnest(?))",
                [skus.to_list()])


def read_watermark(con: duckdb.DuckDBPyConnection, flow: str, name: str) -> str | None:
    row = con.execute("SELECT value FROM ops.watermarks WHERE flow = ? AND name = ?", [flow, name]).fetchone()
    return row[0] if row else None


def save_watermark(con: duckdb.DuckDBPyConnection, flow: str, name: str, value: str) -> None:
    con.execute("MERGE INTO ops.watermarks AS w USING (SELECT ? AS flow, ? AS name, ? AS value) AS n ON w.flow = n.flow AND w.name = n.name "
                "WHEN MATCHED THEN UPDATE SET value = n.value, updated_at = now() "
                "WHEN NOT MATCHED THEN INSERT VALUES (n.flow, n.name, n.value, now())", [flow, name, value])


def record_orders(con: duckdb.DuckDBPyConnection, seen: pl.DataFrame) -> None:
    """Upsert what each Amazon order became (order_id, status, fulfilled_by, last_updated, import_state,
    reason, sales_order_id, customer_id, match_rule); ids and the match rule, once known, are kept."""
    with registered(con, "seen_orders", seen):
        con.execute(
            """
            MERGE INTO ops.orders AS o USING seen_orders AS s ON o.amazon_order_id = s.order_id
            WHEN MATCHED THEN UPDATE SET
                sales_order_id = coalesce(s.sales_order_id, o.sales_order_id),
                customer_id = coalesce(s.customer_id, o.customer_id),
                match_rule = coalesce(s.match_rule, o.match_rule),
                imported_at = coalesce(o.imported_at, CASE WHEN s.sales_order_id IS NOT NULL THEN now() END),
                amazon_status = s.status, fulfilled_by = s.fulfilled_by,
                last_updated = s.last_updated, import_state = s.import_state, reason = s.reason
            WHEN NOT MATCHED THEN INSERT (amazon_order_id, sales_order_id, customer_id, match_rule, amazon_status, fulfilled_by,
                                          last_updated, imported_at, import_state, reason)
                VALUES (s.order_id, s.sales_order_id, s.customer_id, s.match_rule, s.status, s.fulfilled_by, s.last_updated,
                        CASE WHEN s.sales_order_id IS NOT NULL THEN now() END, s.import_state, s.reason)
            """)


def waiting_orders(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Orders that could not be imported yet (unknown SKU): fetched again every run."""
    return [r[0] for r in con.execute("SELECT amazon_order_id FROM ops.orders WHERE import_state = 'WAITING' ORDER BY 1").fetchall()]


def read_shipments(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.execute("SELECT shipping_order_id, fingerprint, outcome FROM ops.shipments").pl()


def record_shipments(con: duckdb.DuckDBPyConnection, results: pl.DataFrame) -> None:
    """Each confirmation sent (shipping_order_id, order_id, package_reference_id, fingerprint, outcome, message)."""
    with registered(con, "shipment_results", results):
        con.execute(
            """
            MERGE INTO ops.shipments AS s USING shipment_results AS r ON s.shipping_order_id = r.shipping_order_id
            WHEN MATCHED THEN UPDATE SET amazon_order_id = r.order_id,
                package_reference_id = r.package_reference_id, fingerprint = r.fingerprint, outcome = r.outcome,
                message = r.message, sent_at = now(), confirmed_at = coalesce(CASE WHEN r.outcome = 'CONFIRMED' THEN now() END, s.confirmed_at)
            WHEN NOT MATCHED THEN INSERT VALUES (r.shipping_order_id, r.order_id, r.package_reference_id, r.fingerprint, r.outcome,
                r.message, now(), CASE WHEN r.outcome = 'CONFIRMED' THEN now() END)
            """)
