"""`omsync simulate`: a trading period in simulated time, judged by the merchant's scorecard.

An embedded OM and warehouse in a fresh folder; the Amazon sandbox in this process on a clock that
only the harness moves; the five flows as real Prefect flow runs at their due moments (prefect.yaml);
the OM's warehouse and people acting between runs (sandbox/om_behaviour.py). At every step the harness
samples the truth (the sandbox's admin API, the OM's tables); the card is computed from that alone.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from omsync.connectors.amazon_limits import USAGE_PLANS
from omsync.connectors.om import OmDatabase
from omsync.connectors.warehouse import Warehouse
from omsync.demo import publish_catalog
from omsync.flows.resources import Resources
from omsync.sandbox import om_behaviour, om_demo_data
from omsync.sandbox import truth as truth_records
from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.realism import SELLER
from omsync.sandbox.stepped import SteppedSandbox
from omsync.transforms import scorecard
from omsync.transforms.availability import compute_quantities

START = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a fixed Monday: the same seed gives the same day
STEP_SECONDS = 60
FLOW_ORDER = ["prices", "inventory", "orders", "shipments", "settlement"]
# Amazon settles every 14 days; a day of simulation settles every 6 hours so cash has something to judge.
SETTLEMENT_DAYS = 0.25
UTC = pl.Datetime("us", "UTC")
# A real seller's account (FBA, sale and B2B prices, cancel requests, outside and split shipments,
# deferred payouts), in the one marketplace the OM's prices and Terms are for.
REALISM = SELLER.with_changes({"sell_in_region": False})
PROJECT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Day:
    hours: float = 24.0
    seed: int = 1
    orders_per_hour: float = 130.0
    items: int = 300
    sites: int = 3
    customers: int = 200


@dataclass
class Truth:
    """Everything sampled during the day, as lists of frames to concatenate at the end."""

    listings: list[pl.DataFrame] = field(default_factory=list)
    offer_fields: list[pl.DataFrame] = field(default_factory=list)
    om_stock: list[pl.DataFrame] = field(default_factory=list)
    commits: dict[str, datetime] = field(default_factory=dict)
    settled: dict[str, datetime] = field(default_factory=dict)
    reports_seen: int = 0
    flow_runs: list[dict[str, Any]] = field(default_factory=list)
    last_settlement_run: datetime | None = None


def schedules(path: Path = PROJECT / "prefect.yaml") -> dict[str, tuple[int, dict[str, Any]]]:
    """Each deployment's interval (seconds) and parameters, as prefect.yaml gives them."""
    spec = yaml.safe_load(path.read_text())
    return {d["name"]: (int(d["schedules"][0]["interval"]), dict(d.get("parameters") or {})) for d in spec["deployments"]}


def _sample_listings(sandbox: SteppedSandbox, now: datetime, truth: Truth) -> None:
    listings = sandbox.client.admin("GET", "listings")["listings"]
    truth.listings.append(pl.DataFrame(
        {"sku": [l["sku"] for l in listings], "quantity": [l["quantity"] for l in listings],
         "price": [None if l["price"] is None else float(l["price"]) for l in listings]},
        schema={"sku": pl.String, "quantity": pl.Int64, "price": pl.Float64}).with_columns(at=pl.lit(now, UTC)))
    fields = [(l["sku"], name) for l in listings for offer in l["attributes"].get("purchasable_offer", []) for name in offer
              if name not in ("marketplace_id", "currency", "audience")]
    truth.offer_fields.append(pl.DataFrame(fields, schema={"sku": pl.String, "field": pl.String}, orient="row").with_columns(at=pl.lit(now, UTC)))


def _read(om: sqlite3.Connection, sql: str, schema: dict[str, Any]) -> pl.DataFrame:
    """A read of the embedded OM straight through SQLite (a DuckDB session per sample costs ~0.3 s)."""
    return pl.DataFrame(om.execute(sql).fetchall(), schema=schema, orient="row")


def _sample_om_stock(om: sqlite3.Connection, now: datetime, truth: Truth) -> None:
    items = _read(om, "SELECT item_id, item_code, backorderable, active FROM item",
                  {"item_id": pl.Int64, "item_code": pl.String, "backorderable": pl.Boolean, "active": pl.Boolean})
    attributes = _read(om, "SELECT item_id, name, value, tag FROM item_attribute WHERE name = 'AmazonItem'",
                       {"item_id": pl.Int64, "name": pl.String, "value": pl.String, "tag": pl.String})
    inventory = _read(om, "SELECT item_id, site_id, on_hand FROM inventory WHERE on_hand <> 0", {"item_id": pl.Int64, "site_id": pl.Int64, "on_hand": pl.Int64})
    holds = _read(om, "SELECT hold_id, item_id, site_id, qty FROM inventory_hold", {"hold_id": pl.Int64, "item_id": pl.Int64, "site_id": pl.Int64, "qty": pl.Int64})
    sites = _read(om, "SELECT site_id, code FROM site", {"site_id": pl.Int64, "code": pl.String})
    prices = _read(om, "SELECT item_id, value FROM item_attribute WHERE name = 'AmazonPrice'", {"item_id": pl.Int64, "price": pl.String})
    # the OM's own rules (Tags, sites) say what it means to offer: the target the lost-sales figure uses
    target = compute_quantities(items, attributes, inventory, holds, sites).quantities.select("sku", target="quantity")
    on_hand = inventory.filter(pl.col("on_hand") > 0).group_by("item_id").agg(pl.col("on_hand").sum())
    held = holds.group_by("item_id").agg(held=pl.col("qty").sum())
    offered = attributes.select("item_id", offered=pl.col("value").is_not_null() & (pl.col("value") != "No"))
    stock = (items.join(offered, on="item_id").join(on_hand, on="item_id", how="left").join(held, on="item_id", how="left")
             .join(prices, on="item_id", how="left")
             .select(sku="item_code", backorderable="backorderable", offered=pl.col("offered") & pl.col("active"),
                     free=pl.col("on_hand").fill_null(0) - pl.col("held").fill_null(0),
                     price=pl.col("price").cast(pl.Float64, strict=False))
             .join(target, on="sku", how="left").with_columns(pl.col("target").fill_null(0), at=pl.lit(now, UTC)))
    truth.om_stock.append(stock)


def _sample_commits(om: sqlite3.Connection, now: datetime, truth: Truth) -> None:
    """Orders the OM holds now and did not at the last sample were committed at this moment."""
    for (order_id,) in om.execute("SELECT external_order_id FROM sales_order WHERE channel = 'AMAZON'"):
        truth.commits.setdefault(order_id, now)


def _sample_settlements(sandbox: SteppedSandbox, now: datetime, truth: Truth) -> None:
    """A new settlement report: the orders it pays were paid by Amazon at this moment."""
    reports = sandbox.client.admin("GET", "reports")["reports"]
    if len(reports) == truth.reports_seen:
        return
    truth.reports_seen = len(reports)
    for order in sandbox.client.admin("GET", "orders")["orders"]:
        if order["settledIn"]:
            truth.settled.setdefault(order["orderId"], now)


def _run_flow(sandbox: SteppedSandbox, resources: Resources, name: str, parameters: dict[str, Any], now: datetime,
              truth: Truth) -> None:
    from omsync.flows.registry import FLOWS

    with sandbox.market.clock.flow_run():
        state = FLOWS[name](**parameters, resources=resources, return_state=True)
    truth.flow_runs.append({"flow": name, "at": now, "state": "COMPLETED" if state.is_completed() else state.type.value})


def run_day(day: Day, folder: Path, progress=None) -> dict[str, Any]:
    """Simulate the day in `folder` (emptied first) and return what was sampled, for the card."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    om = OmDatabase(f"sqlite:///{folder / 'om.sqlite'}")
    om.init_schema()
    om_demo_data.load(om, om_demo_data.generate(day.items, day.sites, day.customers, day.seed))
    warehouse = Warehouse(folder / "warehouse.duckdb")
    warehouse.init()
    sandbox = SteppedSandbox(Marketplace(seed=day.seed, order_rate=day.orders_per_hour, settlement_days=SETTLEMENT_DAYS, realism=REALISM), START)
    # A connection per sample: one kept open does not see what DuckDB's own SQLite wrote since.
    reader = lambda: closing(sqlite3.connect(folder / "om.sqlite"))
    started = time.perf_counter()
    # Heartbeats tell a server that a run on another machine is alive; here each run's heartbeat
    # thread would only add up to a second to each of ~500 runs while it winds down.
    settings = sandbox.client.settings(OMSYNC_OM_URL=om.url, OMSYNC_WAREHOUSE=str(warehouse.path))
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), Resources(settings, om, warehouse) as resources:
        try:
            publish_catalog(sandbox.client, om, withdrawn=False)
            plan = schedules()
            steps = int(day.hours * 3600 // STEP_SECONDS)
            truth = _steps(day, om, reader, sandbox, resources, plan, steps, progress)
            end = START + timedelta(seconds=steps * STEP_SECONDS)
            admin = sandbox.client.admin
            with sandbox.market.lock:
                changes = truth_records.all_changes(sandbox.market.state.offered, START)
            final = {"amazon_orders": admin("GET", "orders")["orders"], "calls": admin("GET", "calls"),
                     "confirmations": admin("GET", "confirmations")["confirmations"], "truth_orders": admin("GET", "truth/orders")["orders"],
                     "payouts": admin("GET", "truth/payouts")["payouts"], "changes": changes, **_final_om(om, warehouse)}
        finally:
            sandbox.stop()
    return {"day": day, "start": START, "end": end, "truth": truth, "plan": plan, "wall_seconds": time.perf_counter() - started, **final}


def _steps(day: Day, om: OmDatabase, reader, sandbox: SteppedSandbox, resources: Resources, plan: dict, steps: int,
           progress) -> Truth:
    """Minute by minute: time passes (buyers order, Amazon moves), the OM acts, due flows run, the truth is sampled."""
    truth = Truth()
    for step in range(steps + 1):
        now = START + timedelta(seconds=step * STEP_SECONDS)
        if step:
            sandbox.advance(STEP_SECONDS)
        om_behaviour.act(om, day.seed, step * STEP_SECONDS // 60, now)
        for name in FLOW_ORDER:
            interval, parameters = plan[name]
            if (step * STEP_SECONDS) % interval == 0:
                _run_flow(sandbox, resources, name, _parameters(name, parameters, now), now, truth)
                if name == "orders":
                    with reader() as con:
                        _sample_commits(con, now, truth)
                if name == "settlement" and truth.flow_runs[-1]["state"] == "COMPLETED":
                    truth.last_settlement_run = now
        if (step * STEP_SECONDS) % int(SETTLEMENT_DAYS * 86400) == 0:
            _sample_settlements(sandbox, now, truth)
        _sample_listings(sandbox, now, truth)
        with reader() as con:
            _sample_om_stock(con, now, truth)
        if progress:
            progress(step, steps)
    return truth


def _final_om(om: OmDatabase, warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    """The OM's orders, packages, invoices and payments at the end, and the problems the runs reported."""
    with warehouse.read() as con:
        reported = con.execute("SELECT flow, message FROM ops.runs").pl()
    return {
        "om_orders": om.read("SELECT external_order_id AS order_id, customer_id, status AS om_status FROM sales_order WHERE channel = 'AMAZON'"),
        "om_shipments": om.read("""SELECT s.external_order_id AS order_id, CAST(o.shipping_order_id AS VARCHAR) AS package_ref, o.ship_date
                                   FROM shipping_order o JOIN sales_order s USING (sales_order_id) WHERE s.channel = 'AMAZON'"""),
        "invoices": om.read("""SELECT s.external_order_id AS order_id, i.amount, i.payment_status, i.due_date
                               FROM invoice i JOIN sales_order s USING (sales_order_id) WHERE s.channel = 'AMAZON'"""),
        "payments": om.read("SELECT settlement_id, sum(amount) AS paid FROM invoice_payment GROUP BY 1"),
        "reported": reported,
    }


def _parameters(name: str, parameters: dict[str, Any], now: datetime) -> dict[str, Any]:
    """prefect.yaml's parameters; feeds are not waited for inside a run (simulated time stands still
    during it, so the verdict is collected by the next run), and Terms are judged on the simulated date."""
    if name in ("inventory", "prices"):
        return {**parameters, "feed_wait_seconds": 0.0}
    if name == "settlement":
        return {**parameters, "as_of": now.date()}
    return parameters


def truth_frames(result: dict[str, Any]) -> dict[str, pl.DataFrame]:
    """The day's truth as the frames transforms/scorecard.py reads."""
    truth: Truth = result["truth"]
    parse = lambda column: pl.col(column).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    raw = result["amazon_orders"]
    orders = pl.DataFrame(
        {"order_id": [o["orderId"] for o in raw], "created": [o["created"] for o in raw], "updated": [o["lastUpdated"] for o in raw],
         "status": [o["status"] for o in raw], "fulfilled_by": [o["fulfilledBy"] for o in raw],
         "buyer_email": [(o["buyer"] or {}).get("email") for o in raw]},
        schema={"order_id": pl.String, "created": pl.String, "updated": pl.String, "status": pl.String, "fulfilled_by": pl.String,
                "buyer_email": pl.String}).with_columns(parse("created"), parse("updated"))
    lines = pl.DataFrame([(o["orderId"], l["sku"], l["quantity"]) for o in raw for l in o["lines"]],
                         schema={"order_id": pl.String, "sku": pl.String, "qty": pl.Int64}, orient="row")
    commits = pl.DataFrame({"order_id": list(truth.commits), "committed_at": list(truth.commits.values())},
                           schema={"order_id": pl.String, "committed_at": UTC})
    settled = pl.DataFrame({"order_id": list(truth.settled), "settled_at": list(truth.settled.values())},
                           schema={"order_id": pl.String, "settled_at": UTC})
    confirmations = pl.DataFrame(
        [(c["orderId"], str(((c.get("body") or {}).get("packageDetail") or {}).get("packageReferenceId")), c["status"]) for c in result["confirmations"]],
        schema={"order_id": pl.String, "package_ref": pl.String, "status": pl.Int64}, orient="row")
    requests, packages = _requests_and_packages(result["truth_orders"])
    changes = pl.DataFrame([(c["at"], c["sku"], c["suppressed"]) for c in result["changes"]],
                           schema={"at": pl.String, "sku": pl.String, "suppressed": pl.Boolean}, orient="row").with_columns(parse("at"))
    payouts = pl.DataFrame([(p["settlementId"], p["orderId"], p["paidAt"]) for p in result["payouts"]],
                           schema={"settlement_id": pl.String, "order_id": pl.String, "paid_at": pl.String}, orient="row").with_columns(parse("paid_at"))
    problems = result["reported"].with_columns(problems=pl.col("message").str.extract(r"^(\d+) problems", 1).cast(pl.Int64).fill_null(0))
    flow_runs = pl.DataFrame(truth.flow_runs, schema={"flow": pl.String, "at": UTC, "state": pl.String})
    flow_runs = flow_runs.with_columns(problems=pl.lit(0, pl.Int64))
    reported = problems.group_by("flow").agg(pl.col("problems").sum())
    return {"orders": orders, "lines": lines, "commits": commits, "settled": settled, "confirmations": confirmations,
            "requests": requests, "packages": packages, "changes": changes, "payouts": payouts,
            "listings": pl.concat(truth.listings), "offer_fields": pl.concat(truth.offer_fields), "om_stock": pl.concat(truth.om_stock),
            "om_orders": result["om_orders"], "om_shipments": result["om_shipments"].with_columns(pl.col("ship_date").cast(UTC)),
            "invoices": result["invoices"], "payments": result["payments"], "flow_runs": flow_runs, "reported_problems": reported}


def _requests_and_packages(raw: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The sandbox's truth of each order: buyer cancel requests (with the first package's time) and packages shipped."""
    parse = lambda column: pl.col(column).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    packages = pl.DataFrame([(o["orderId"], str(p["packageReferenceId"]), p["shippedBy"], p["confirmedAt"], bool(p["late"]))
                             for o in raw for p in o["packages"]],
                            schema={"order_id": pl.String, "package_ref": pl.String, "shipped_by": pl.String, "confirmed_at": pl.String,
                                    "late": pl.Boolean}, orient="row").with_columns(parse("confirmed_at"))
    first_package = packages.group_by("order_id").agg(shipped_at=pl.col("confirmed_at").min())
    requests = (pl.DataFrame([(o["orderId"], o["cancelRequest"]["at"], o["cancelRequest"]["honoured"]) for o in raw if o["cancelRequest"]],
                             schema={"order_id": pl.String, "requested_at": pl.String, "honoured": pl.Boolean}, orient="row")
                .with_columns(parse("requested_at")).join(first_package, on="order_id", how="left"))
    return requests, packages


def compute_card(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the card, the series its charts draw) from the day's truth."""
    f = truth_frames(result)
    end, plan, day = result["end"], result["plan"], result["day"]
    seconds = (end - result["start"]).total_seconds()
    unheld = scorecard.unheld_units(f["orders"], f["lines"], f["commits"])
    sellable = scorecard.true_free(f["om_stock"], unheld)
    orders_grace = plan["orders"][0] / 60 + 2 + STEP_SECONDS / 60
    runs = scorecard.runs(f["flow_runs"]).drop("problems").join(f["reported_problems"], on="flow", how="left").with_columns(pl.col("problems").fill_null(0))
    calls = scorecard.amazon_calls(result["calls"]["calls"], result["calls"]["throttled"], USAGE_PLANS, seconds)
    merchant = f["orders"].filter(pl.col("fulfilled_by") == "MERCHANT")
    card = {
        "period": {"hours": day.hours, "seed": day.seed, "orders_per_hour": day.orders_per_hour, "start": result["start"].isoformat(),
                   "amazon_orders": f["orders"].height, "merchant_orders": merchant.height,
                   "fba_orders": f["orders"].filter(pl.col("fulfilled_by") == "AMAZON").height, "skus_listed": f["listings"]["sku"].n_unique()},
        "oversold": scorecard.oversold(f["orders"], f["lines"], f["om_stock"], f["commits"]),
        "orders": {**scorecard.order_latency(f["orders"], f["commits"]),
                   "missing": scorecard.missing_orders(f["orders"], f["om_orders"], end, orders_grace),
                   "duplicated_orders": scorecard.duplicated_orders(f["om_orders"]),
                   "duplicated_customers": scorecard.duplicated_customers(f["orders"], f["om_orders"])},
        "stock_truth": scorecard.stock_truth(f["listings"], sellable, end),
        "price_truth": {**scorecard.price_truth(f["listings"], f["om_stock"], end),
                        "offer_fields_removed": scorecard.offer_fields_removed(f["offer_fields"]),
                        **scorecard.suppressed(f["changes"], end)},
        "cancellations": scorecard.cancellations(f["orders"], f["requests"], f["om_orders"], f["om_shipments"]),
        "shipments": scorecard.shipments(f["om_shipments"], f["confirmations"], f["packages"], f["om_orders"], end,
                                         plan["shipments"][0] / 60 + STEP_SECONDS / 60),
        "cash": scorecard.cash(f["invoices"], f["settled"], f["payouts"], f["payments"], end, result["truth"].last_settlement_run),
        "amazon": calls.to_dicts(),
        "runs": runs.to_dicts(),
    }
    latency = f["orders"].join(f["commits"], on="order_id").select(m=(pl.col("committed_at") - pl.col("created")).dt.total_seconds() / 60.0)["m"]
    worst = scorecard.worst_skus(f["listings"], sellable, end)
    series = {
        "stock": {sku: {"amazon": f["listings"].filter(pl.col("sku") == sku).sort("at").select(
                            m=(pl.col("at") - pl.lit(result["start"], UTC)).dt.total_seconds() / 60, v=pl.col("quantity").fill_null(0)).rows(),
                        "om": sellable.filter(pl.col("sku") == sku).sort("at").select(
                            m=(pl.col("at") - pl.lit(result["start"], UTC)).dt.total_seconds() / 60, v=pl.col("sellable")).rows()}
                  for sku in worst},
        "latency_minutes": sorted(latency.to_list()),
        "cash": _cash_series(f),
    }
    return card, series


def _cash_series(f: dict[str, pl.DataFrame]) -> list[tuple[str, float, float]]:
    """Per settlement (in order): what Amazon paid for the OM's invoices and what the OM recorded as paid."""
    orders = f["orders"].select("order_id")
    expected = (f["settled"].join(f["invoices"], on="order_id").join(orders, on="order_id")
                .group_by("settled_at").agg(expected=pl.col("amount").cast(pl.Float64).sum()).sort("settled_at")
                .with_row_index("n", offset=1))
    paid = f["payments"].sort("settlement_id").with_row_index("n", offset=1).select("n", paid=pl.col("paid").cast(pl.Float64))
    joined = expected.join(paid, on="n", how="full", coalesce=True).sort("n").fill_null(0.0)
    return [(f"#{n}", round(e, 2), round(p, 2)) for n, e, p in joined.select("n", "expected", "paid").rows()]


def simulate(day: Day, out: Path, console=None) -> dict[str, Any]:
    """Run the day, write scorecard.json, scorecard.md and the charts to `out`; returns the card."""
    from omsync import scorecard_report

    out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("prefect").setLevel(logging.WARNING)
    result = run_day(day, out / "day", progress=scorecard_report.progress_printer(console) if console else None)
    card, series = compute_card(result)
    scorecard_report.write(card, series, out)
    scorecard_report.publish(str(out))
    if console:
        scorecard_report.show(card, console, result["wall_seconds"])
    card["wall_seconds"] = round(result["wall_seconds"], 1)
    return card
