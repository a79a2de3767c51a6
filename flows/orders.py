"""orders (Amazon → OM): every Amazon order as an OM sales order, exactly once, with its customer."""

from __future__ import annotations

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from omsync.connectors import ops
from omsync.connectors.amazon_order_pages import OrderStream, order_window, save_watermark
from omsync.connectors.om import OmDatabase
from omsync.connectors.om_sales import cancel_orders, candidate_customers, item_codes, load_orders, orders_in_om, stock_by_site
from omsync.connectors.warehouse import Warehouse
from omsync.flows.resources import Resources, provided
from omsync.flows.runs import recorded_run
from omsync.flows.warehouse_tasks import land
from omsync.transforms.customers import match_customers
from omsync.transforms.orders import (OrderPlan, as_om_lines, as_om_orders, cancellable, choose_hold_sites, flatten_lines,
                               flatten_orders, latest_versions, lines_to_hold, order_outcomes, order_problems, plan_orders,
                               shipped_before_cancel, unchanged_orders)
from omsync.transforms.terms import DEFAULT_TERMS
from omsync.transforms.text import clean_text

BATCH_ORDERS = 20_000  # per OM transaction: the next batch downloads while this one is imported


@task(cache_policy=NO_CACHE)
def import_orders(om: OmDatabase, marketplace_id: str, terms_code: str, lines: pl.DataFrame, items: pl.DataFrame, plan: OrderPlan) -> dict:
    """Match customers, then create customers, orders, lines and holds in one OM transaction; cancel what Amazon cancelled."""
    to_import = as_om_orders(plan.to_import)
    matches = match_customers(to_import, candidate_customers(om, to_import), marketplace_id)
    batch_lines = as_om_lines(lines, to_import, items)
    held = lines_to_hold(batch_lines)
    sited = batch_lines.join(choose_hold_sites(held, stock_by_site(om, held["item_id"])).select("order_id", "line_no", "site_id"),
                             on=["order_id", "line_no"], how="left")
    loaded = load_orders(om, to_import.join(matches.orders.select("order_id", "customer_no"), on="order_id"), sited, matches.new_customers, terms_code)
    cancelled = cancel_orders(om, plan.to_cancel["order_id"], cancellable, shipped_before_cancel) if plan.to_cancel.height else None
    return {"loaded": loaded, "matches": matches, "cancelled": cancelled}


@task(cache_policy=NO_CACHE)
def record(warehouse: Warehouse, plan: OrderPlan, imported: dict) -> pl.DataFrame:
    """After the batch's OM commit: what each of its orders became and the waiting queue; returns the batch's problems."""
    cancelled = imported["cancelled"]
    seen = order_outcomes(plan.record, plan.waiting, imported["loaded"].ids, imported["matches"].orders,
                          cancelled.already_shipped["order_id"] if cancelled is not None else pl.Series("order_id", [], pl.String))
    problems = order_problems(seen)
    with warehouse.write() as con:
        ops.record_orders(con, seen.select("marketplace_id", "order_id", "status", "fulfilled_by", "last_updated", "import_state", "reason",
                                           "sales_order_id", "customer_id", "match_rule"))
        ops.record_quarantine(con, "orders", problems, complete=False)  # the run resolves what none of its batches found
    return problems


@flow(name="orders")
def orders(overlap_minutes: float = 10.0, initial_days: float = 30.0, terms_code: str = DEFAULT_TERMS,
           resources: Resources | None = None) -> dict[str, int]:
    """Amazon orders updated since the last run → OM sales orders (new), cancellations (updated), waiting orders retried."""
    with provided(resources) as r, recorded_run("orders", r.warehouse) as run:
        since, before, waiting = order_window(r.amazon, r.warehouse, overlap_minutes, initial_days)
        items = item_codes(r.om)
        plans, imports, problems = [], [], []
        stream = OrderStream(r.amazon, since, before, waiting, BATCH_ORDERS)
        with stream as batches:
            for number, fetched in enumerate(batches, start=1):
                land(r.warehouse, {"amazon_orders": fetched.landing()}, f"{run.run_id}-{number}")
                raw = latest_versions(fetched.rows())
                flat, lines = clean_text(flatten_orders(raw)), clean_text(flatten_lines(raw))
                plan = plan_orders(flat, lines, items, orders_in_om(r.om, flat["order_id"]))
                imported = import_orders(r.om, r.settings.marketplace_id, terms_code, lines, items, plan)
                problems.append(record(r.warehouse, plan, imported))
                plans.append(plan)
                imports.append(imported)
        save_watermark(r.warehouse, r.settings.marketplace_ids, stream.bound)
        run.quarantine = pl.concat(problems)  # the full scan: what no batch found is resolved

        seen = pl.concat([p.record for p in plans])
        waiting_now = pl.concat([p.waiting for p in plans])
        loaded = [i["loaded"] for i in imports]
        cancelled = [i["cancelled"] for i in imports if i["cancelled"] is not None]
        rules = pl.concat([i["matches"].orders.select("match_rule") for i in imports])
        states = dict(seen.group_by("import_state").len().iter_rows())
        run.count_in, run.count_out = seen.height, sum(l.orders_created for l in loaded)
        changed = sum(c.cancelled.height + c.already_shipped.height for c in cancelled)
        run.counts = {"orders seen": seen.height, "new in OM": run.count_out,
                      "unchanged": unchanged_orders(seen, run.count_out, changed), "lines": sum(l.lines_created for l in loaded),
                      "holds": sum(l.holds_created for l in loaded), "cancelled in OM": sum(c.cancelled.height for c in cancelled),
                      "cancelled after shipping": sum(c.already_shipped.height for c in cancelled),
                      "waiting": waiting_now.height, "pending at Amazon": states.get("PENDING", 0),
                      "cancelled before import": states.get("CANCELLED_BEFORE_IMPORT", 0),
                      "customers created": sum(l.customers_created for l in loaded),
                      **{f"customers by {rule}": n for rule, n in rules.group_by("match_rule").len().sort("match_rule").iter_rows()}}
        run.add_problems("waiting", waiting_now.select(key="order_id", raw_value=pl.lit("WAITING"), reason="reason"))
        for c in cancelled:
            run.add_problems("cancelled after shipping", c.already_shipped.select(
                key="order_id", raw_value=pl.lit("CANCELLED"), reason=pl.lit("the OM shipped it already: decide on a refund or return")))
        return run.counts
