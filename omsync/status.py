"""`omsync status`: what an operator checks every morning, from the published warehouse snapshot and
one probe of each part; each line says whether a person is needed (transforms/attention.py decides)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import polars as pl

from omsync.connectors.warehouse import Warehouse
from omsync import checks
from omsync.core.settings import Settings
from omsync.transforms import attention


@dataclass(frozen=True)
class Line:
    what: str
    state: str
    detail: str
    attention: bool  # a person should look


def read_runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.execute("SELECT flow, started, outcome, message FROM ops.runs").pl().cast(
        {"started": pl.Datetime("us", "UTC")})


def read_orders_mark(con: duckdb.DuckDBPyConnection) -> datetime | None:
    row = con.execute("SELECT value FROM ops.watermarks WHERE flow = 'orders' AND name = 'last_updated_before'").fetchone()
    return datetime.fromisoformat(row[0].replace("Z", "+00:00")) if row else None


def read_pending_feeds(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.execute(
        """
        SELECT attribute, feed_id, min(sent_at) AS sent_at FROM ops.listing_state WHERE verdict = 'PENDING' GROUP BY ALL ORDER BY ALL
        """
    ).pl().cast({"sent_at": pl.Datetime("us", "UTC")})


def read_problems(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Open problems by kind: the flows' quarantine and the reconciliation's exceptions."""
    return con.execute(
        """
        SELECT flow || ': ' || split_part(reason, ':', 1) AS kind, count(*) AS n
        FROM ops.quarantine WHERE resolved_at IS NULL GROUP BY ALL
        UNION ALL
        SELECT 'settlement: ' || kind, count(*) FROM recon.exceptions GROUP BY ALL
        ORDER BY 1
        """
    ).pl()


def read_unconfirmed_orders(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.execute(
        """
        SELECT o.amazon_order_id, o.imported_at, o.fulfilled_by,
               coalesce(bool_or(s.outcome = 'CONFIRMED'), false) AS confirmed
        FROM ops.orders o LEFT JOIN ops.shipments s ON s.amazon_order_id = o.amazon_order_id
        WHERE o.import_state = 'IMPORTED' AND o.imported_at IS NOT NULL
          AND coalesce(o.amazon_status, '') NOT IN ('SHIPPED', 'DELIVERED', 'CANCELLED')
        GROUP BY ALL
        """
    ).pl().cast({"imported_at": pl.Datetime("us", "UTC")})


def read_overdue(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.execute(
        "SELECT currency, count(*) AS invoices, sum(outstanding) AS outstanding FROM recon.open_receivables "
        "WHERE days_overdue > 0 GROUP BY ALL ORDER BY 1"
    ).pl()


def parts(settings: Settings, amazon: bool) -> list[Line]:
    """OM, warehouse and Amazon: reachable and usable."""
    found = [checks.check_om(settings), checks.check_warehouse(settings, create=False)]
    if amazon:
        found.append(checks.check_amazon(settings, sleep=lambda _: None))
    lines = [Line(c.part, "ok" if c.ok else "DOWN", c.detail, not c.ok) for c in found]
    if amazon and found[-1].ok:
        lines.append(roles(settings))
    return lines


def roles(settings: Settings) -> Line:
    """The credentials' roles are sufficient for every flow (`omsync amazon check` details them)."""
    from omsync.connectors.amazon import AmazonConnector, RetryPolicy
    from omsync.amazon_check import check_roles

    with AmazonConnector(settings, retry=RetryPolicy(attempts=2, base_delay=0.5, max_delay=1.0)) as amazon:
        lacking = [c.role for c in check_roles(amazon) if c.verdict != "ok"]
    return Line("Amazon roles", "MISSING" if lacking else "ok", "; ".join(lacking) or "every flow's", bool(lacking))


def ago(seconds: float | None) -> str:
    """12 s, 5 min, 3.0 h, 2.1 d: an age as a person reads it."""
    if seconds is None:
        return "—"
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size * (2 if unit != "min" else 1):
            return f"{seconds / size:.1f} {unit}" if unit != "min" else f"{seconds / size:.0f} min"
    return f"{seconds:.0f} s"


def warehouse_lines(con: duckdb.DuckDBPyConnection, intervals: dict[str, int], now: datetime) -> list[Line]:
    """Flows, orders lag, feeds, prices, problems, shipments and receivables, from the warehouse."""
    lines = []
    for row in attention.flow_health(read_runs(con), intervals, now).iter_rows(named=True):
        detail = "no run recorded" if row["started"] is None else f"{row['outcome']} {ago(row['age_seconds'])} ago"
        if row["verdict"] == "failed" and row["message"]:
            detail += f": {row['message'][:200]}"
        lines.append(Line(f"flow {row['flow']}", row["verdict"], detail, row["verdict"] in attention.NEEDS_PERSON))
    mark = read_orders_mark(con)
    lag = None if mark is None else max((now - mark).total_seconds(), 0.0)
    lines.append(Line("orders lag", ago(lag), "Amazon changes up to " + (mark.isoformat(timespec="seconds") if mark else "— (never imported)"),
                      attention.orders_lag_needs_person(lag, intervals.get("orders", 300))))
    pending = read_pending_feeds(con)
    stuck = attention.stuck_feeds(pending, now)
    detail = "waiting for Amazon's verdict" if pending.height else ""
    if stuck.height:
        detail = f"{stuck.height} over {attention.FEED_PENDING_HOURS} h without a verdict: " + ", ".join(stuck["feed_id"].to_list()[:5])
    lines.append(Line("feeds pending", f"{pending.height}", detail, stuck.height > 0))
    held = con.execute("SELECT count(*) FROM ops.price_guard WHERE status = 'HELD'").fetchone()[0]
    lines.append(Line("prices held", f"{held}", "`omsync prices held`, then approve or reject" if held else "", held > 0))
    problems = read_problems(con)
    for kind, n in problems.iter_rows():
        lines.append(Line(f"open problems: {kind}", f"{n:,}", "", True))
    if problems.is_empty():
        lines.append(Line("open problems", "0", "", False))
    late = attention.late_shipments(read_unconfirmed_orders(con), now)
    detail = f"in the OM over {attention.SHIP_WITHIN_HOURS} h, not confirmed: " + ", ".join(late["amazon_order_id"].to_list()[:3])
    lines.append(Line("late shipments", f"{late.height:,}", detail if late.height else "", late.height > 0))
    overdue = read_overdue(con)
    lines.append(Line("receivables overdue", f"{int(overdue['invoices'].sum()) if overdue.height else 0:,}",
                      ", ".join(f"{o} {c}" for c, o in zip(overdue["currency"], overdue["outstanding"])), overdue.height > 0))
    return lines


def report(settings: Settings, intervals: dict[str, int], amazon: bool = True, now: datetime | None = None) -> list[Line]:
    """The whole morning check; a part that is down is a line of its own, never an exception."""
    now = now or datetime.now(timezone.utc)
    lines = parts(settings, amazon)
    if any(l.what == "warehouse" and l.attention for l in lines):
        return lines
    with Warehouse.of(settings).read() as con:
        return lines + warehouse_lines(con, intervals, now)
