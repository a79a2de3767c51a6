"""The warehouse's ops tables: runs, quarantine, listing state, price guard, watermarks, orders, shipments,
written set-based. Amazon state is keyed by marketplace (docs/design.md)."""

from __future__ import annotations

from typing import Literal, Sequence

import duckdb
import polars as pl

from omsync.connectors.frames import registered
from omsync.core.schemas import STATE_SCHEMAS

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


def claim_unkeyed(con: duckdb.DuckDBPyConnection, table: str, marketplace_id: str) -> None:
    """Rows from before marketplaces were keys (marketplace_id NULL) belong to the marketplace the
    warehouse served then: the first marketplace that writes the table after the upgrade."""
    con.execute(f"UPDATE {table} SET marketplace_id = ? WHERE marketplace_id IS NULL", [marketplace_id])


# A marketplace's rows, including those not claimed yet (see claim_unkeyed).
_MINE = "coalesce(marketplace_id, $marketplace) = $marketplace"


def read_listing_state(con: duckdb.DuckDBPyConnection, attribute: Attribute, marketplace_id: str) -> pl.DataFrame:
    """One attribute's state per SKU of a marketplace: sku, {attribute}_sent, _accepted, _verdict."""
    schema = STATE_SCHEMAS[attribute]
    return con.execute(
        f"""
        SELECT sku, sent AS {attribute}_sent, accepted AS {attribute}_accepted, verdict AS {attribute}_verdict
        FROM ops.listing_state WHERE attribute = $attribute AND {_MINE}
        """,
        {"attribute": attribute, "marketplace": marketplace_id},
    ).pl().cast(schema)


def record_sent(con: duckdb.DuckDBPyConnection, attribute: Attribute, marketplace_id: str, sent: pl.DataFrame) -> None:
    """Remember what went out (sku, product_type, value, feed_id, message_id) as PENDING; what Amazon accepted stays as it was."""
    # An UPDATE of the known SKUs and an INSERT of the new ones (DuckLake has no key to conflict on).
    claim_unkeyed(con, "ops.listing_state", marketplace_id)
    key = {"attribute": attribute, "marketplace": marketplace_id}
    with registered(con, "sent_rows", sent):
        con.execute(
            """
            UPDATE ops.listing_state AS s SET product_type = r.product_type, sent = CAST(r.value AS VARCHAR),
                feed_id = r.feed_id, message_id = r.message_id, verdict = 'PENDING', issues = NULL, sent_at = now(), verdict_at = NULL
            FROM sent_rows r WHERE s.marketplace_id = $marketplace AND s.attribute = $attribute AND s.sku = r.sku
            """,
            key,
        )
        con.execute(
            """
            INSERT INTO ops.listing_state (marketplace_id, sku, attribute, product_type, sent, feed_id, message_id, verdict, sent_at)
            SELECT $marketplace, sku, $attribute, product_type, CAST(value AS VARCHAR), feed_id, message_id, 'PENDING', now() FROM sent_rows r
            -- NOT EXISTS, not NOT IN: an anti-join of the sent rows, not a hash of every SKU of the table (measured 55 ms vs 150 ms at 1 M rows)
            WHERE NOT EXISTS (SELECT 1 FROM ops.listing_state s WHERE s.marketplace_id = $marketplace AND s.attribute = $attribute AND s.sku = r.sku)
            """,
            key,
        )


def record_verdicts(con: duckdb.DuckDBPyConnection, attribute: Attribute, feed_id: str, verdicts: pl.DataFrame) -> None:
    """Amazon's verdict on one submission (sku, verdict, issues); ACCEPTED makes the sent value the accepted one.
    Rows already superseded by a later submission are left to that one (a submission is for one marketplace)."""
    with registered(con, "verdict_rows", verdicts):
        con.execute(
            """
            UPDATE ops.listing_state AS s SET verdict = v.verdict, issues = v.issues, verdict_at = now(),
                accepted = CASE WHEN v.verdict = 'ACCEPTED' THEN s.sent ELSE s.accepted END
            FROM verdict_rows v
            WHERE s.attribute = ? AND s.feed_id = ? AND s.sku = v.sku
            """,
            [attribute, feed_id],
        )


def pending_feeds(con: duckdb.DuckDBPyConnection, attribute: Attribute, marketplace_id: str) -> list[str]:
    """Submissions of earlier runs that never got their verdict (the run stopped while waiting)."""
    rows = con.execute(
        f"""SELECT DISTINCT feed_id FROM ops.listing_state
            WHERE attribute = $attribute AND {_MINE} AND verdict = 'PENDING' AND feed_id IS NOT NULL ORDER BY 1""",
        {"attribute": attribute, "marketplace": marketplace_id},
    ).fetchall()
    return [r[0] for r in rows]


def skus_of_feed(con: duckdb.DuckDBPyConnection, attribute: Attribute, feed_id: str) -> pl.DataFrame:
    return con.execute("SELECT sku, message_id FROM ops.listing_state WHERE attribute = ? AND feed_id = ?", [attribute, feed_id]).pl()


def record_held_prices(con: duckdb.DuckDBPyConnection, marketplace_id: str, held: pl.DataFrame) -> None:
    """Price changes held for approval (sku, price, previous, change_percent); a new price restarts the wait."""
    claim_unkeyed(con, "ops.price_guard", marketplace_id)
    with registered(con, "held_rows", held):
        con.execute(
            """
            UPDATE ops.price_guard AS g SET
                status = CASE WHEN g.price = h.price AND g.status <> 'RELEASED' THEN g.status ELSE 'HELD' END,
                held_at = CASE WHEN g.price = h.price AND g.status <> 'RELEASED' THEN g.held_at ELSE now() END,
                approved_at = CASE WHEN g.price = h.price AND g.status <> 'RELEASED' THEN g.approved_at END,
                price = h.price, previous = h.previous, change_percent = h.change_percent, released_at = NULL
            FROM held_rows h WHERE g.marketplace_id = $marketplace AND g.sku = h.sku
            """,
            {"marketplace": marketplace_id},
        )
        con.execute(
            """
            INSERT INTO ops.price_guard (marketplace_id, sku, price, previous, change_percent, status, held_at)
            SELECT $marketplace, sku, price, previous, change_percent, 'HELD', now() FROM held_rows h
            WHERE NOT EXISTS (SELECT 1 FROM ops.price_guard g WHERE g.marketplace_id = $marketplace AND g.sku = h.sku)
            """,
            {"marketplace": marketplace_id},
        )


def approved_prices(con: duckdb.DuckDBPyConnection, marketplace_id: str) -> pl.DataFrame:
    return con.execute(f"SELECT sku, price FROM ops.price_guard WHERE status = 'APPROVED' AND {_MINE}", {"marketplace": marketplace_id}).pl()


def approve_prices(con: duckdb.DuckDBPyConnection, marketplace_id: str, skus: list[str]) -> pl.DataFrame:
    """A person releases held prices; the next prices run sends them. Returns what was approved."""
    # DuckLake has no UPDATE … RETURNING: read the held rows, then approve them, in one transaction.
    claim_unkeyed(con, "ops.price_guard", marketplace_id)
    approved = con.execute("SELECT sku, price, previous, change_percent FROM ops.price_guard "
                           "WHERE marketplace_id = $marketplace AND status = 'HELD' AND sku IN (SELECT unnest($skus))",
                           {"marketplace": marketplace_id, "skus": skus}).pl()
    con.execute("UPDATE ops.price_guard SET status = 'APPROVED', approved_at = now() "
                "WHERE marketplace_id = $marketplace AND status = 'HELD' AND sku IN (SELECT unnest($skus))",
                {"marketplace": marketplace_id, "skus": approved["sku"].to_list()})
    return approved.sort("sku")


def release_prices(con: duckdb.DuckDBPyConnection, marketplace_id: str, skus: pl.Series) -> None:
    """Approved prices that have now been sent (a handful: pass only those)."""
    if skus.is_empty():
        return
    claim_unkeyed(con, "ops.price_guard", marketplace_id)
    con.execute("UPDATE ops.price_guard SET status = 'RELEASED', released_at = now() "
                "WHERE marketplace_id = $marketplace AND status = 'APPROVED' AND sku IN (SELECT unnest($skus))",
                {"marketplace": marketplace_id, "skus": skus.to_list()})


def read_watermark(con: duckdb.DuckDBPyConnection, flow: str, name: str, marketplace_ids: Sequence[str]) -> str | None:
    """The oldest of these marketplaces' watermarks (ISO text); None while any of them has none, so a
    marketplace new to the account starts from the beginning."""
    rows = dict(con.execute("SELECT coalesce(marketplace_id, $home), value FROM ops.watermarks WHERE flow = $flow AND name = $name",
                            {"flow": flow, "name": name, "home": marketplace_ids[0]}).fetchall())
    marks = [rows.get(m) for m in marketplace_ids]
    return None if None in marks else min(marks)


def save_watermark(con: duckdb.DuckDBPyConnection, flow: str, name: str, marketplace_ids: Sequence[str], value: str) -> None:
    """Everything of these marketplaces up to `value` is done."""
    claim_unkeyed(con, "ops.watermarks", marketplace_ids[0])
    with registered(con, "marks", pl.DataFrame({"marketplace_id": list(marketplace_ids)}, schema={"marketplace_id": pl.String})):
        key = {"flow": flow, "name": name, "value": value}
        con.execute("UPDATE ops.watermarks AS w SET value = $value, updated_at = now() FROM marks m "
                    "WHERE w.marketplace_id = m.marketplace_id AND w.flow = $flow AND w.name = $name", key)
        con.execute("INSERT INTO ops.watermarks (marketplace_id, flow, name, value, updated_at) SELECT marketplace_id, $flow, $name, $value, now() "
                    "FROM marks WHERE marketplace_id NOT IN (SELECT marketplace_id FROM ops.watermarks WHERE flow = $flow AND name = $name)", key)


def record_orders(con: duckdb.DuckDBPyConnection, seen: pl.DataFrame) -> None:
    """Upsert what each Amazon order became (marketplace_id, order_id, status, fulfilled_by, last_updated,
    import_state, reason, sales_order_id, customer_id, match_rule); ids and the match rule, once known, are kept."""
    for marketplace_id in seen["marketplace_id"].unique().drop_nulls().to_list():
        claim_unkeyed(con, "ops.orders", marketplace_id)
    with registered(con, "seen_orders", seen):
        con.execute(
            """
            UPDATE ops.orders AS o SET
                sales_order_id = coalesce(s.sales_order_id, o.sales_order_id),
                customer_id = coalesce(s.customer_id, o.customer_id),
                match_rule = coalesce(s.match_rule, o.match_rule),
                imported_at = coalesce(o.imported_at, CASE WHEN s.sales_order_id IS NOT NULL THEN now() END),
                amazon_status = s.status, fulfilled_by = s.fulfilled_by,
                last_updated = s.last_updated, import_state = s.import_state, reason = s.reason
            FROM seen_orders s WHERE o.marketplace_id = s.marketplace_id AND o.amazon_order_id = s.order_id
            """)
        con.execute(
            """
            INSERT INTO ops.orders (marketplace_id, amazon_order_id, sales_order_id, customer_id, match_rule, amazon_status, fulfilled_by,
                                    last_updated, imported_at, import_state, reason)
            SELECT marketplace_id, order_id, sales_order_id, customer_id, match_rule, status, fulfilled_by, last_updated,
                   CASE WHEN sales_order_id IS NOT NULL THEN now() END, import_state, reason FROM seen_orders s
            WHERE NOT EXISTS (SELECT 1 FROM ops.orders o WHERE o.marketplace_id = s.marketplace_id AND o.amazon_order_id = s.order_id)
            """)


def waiting_orders(con: duckdb.DuckDBPyConnection, marketplace_ids: Sequence[str]) -> list[str]:
    """Orders of these marketplaces that could not be imported yet (unknown SKU): fetched again every run."""
    return [r[0] for r in con.execute("SELECT amazon_order_id FROM ops.orders WHERE import_state = 'WAITING' "
                                      "AND coalesce(marketplace_id, $home) IN (SELECT unnest($markets)) ORDER BY 1",
                                      {"home": marketplace_ids[0], "markets": list(marketplace_ids)}).fetchall()]


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
