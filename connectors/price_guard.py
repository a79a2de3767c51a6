"""The price guard as a person works it: list the held changes, approve them (the next prices run sends
them) or reject them (Amazon keeps the accepted price; the same OM price is never sent); who and when kept."""

from __future__ import annotations

import duckdb
import polars as pl

from omsync.connectors import ops


def held(con: duckdb.DuckDBPyConnection, marketplace_id: str) -> pl.DataFrame:
    """Changes waiting for a person: sku, previous (accepted) price, new price, change %, since when."""
    return con.execute("SELECT sku, previous, price, change_percent, held_at FROM ops.price_guard "
                       "WHERE coalesce(marketplace_id, $marketplace) = $marketplace AND status = 'HELD' ORDER BY sku",
                       {"marketplace": marketplace_id}).pl()


def approve(con: duckdb.DuckDBPyConnection, marketplace_id: str, skus: list[str] | None, by: str) -> pl.DataFrame:
    """Approve these held SKUs (None: every held one); returns what was approved."""
    approved = ops.approve_prices(con, marketplace_id, held(con, marketplace_id)["sku"].to_list() if skus is None else skus)
    con.execute("UPDATE ops.price_guard SET decided_by = $by WHERE marketplace_id = $marketplace AND status = 'APPROVED' "
                "AND sku IN (SELECT unnest($skus))", {"by": by, "marketplace": marketplace_id, "skus": approved["sku"].to_list()})
    return approved


def reject(con: duckdb.DuckDBPyConnection, marketplace_id: str, skus: list[str], by: str) -> pl.DataFrame:
    """Reject these held SKUs: their new price stays unsent until the OM price changes again; returns what was rejected."""
    ops.claim_unkeyed(con, "ops.price_guard", marketplace_id)
    key = {"marketplace": marketplace_id}
    rejected = con.execute("SELECT sku, previous, price, change_percent FROM ops.price_guard "
                           "WHERE marketplace_id = $marketplace AND status = 'HELD' AND sku IN (SELECT unnest($skus)) ORDER BY sku",
                           key | {"skus": skus}).pl()
    con.execute("UPDATE ops.price_guard SET status = 'REJECTED', rejected_at = now(), decided_by = $by "
                "WHERE marketplace_id = $marketplace AND status = 'HELD' AND sku IN (SELECT unnest($skus))",
                key | {"by": by, "skus": rejected["sku"].to_list()})
    return rejected
