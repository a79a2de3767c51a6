"""`omsync demo`: the whole story, offline, every flow a real Prefect flow run.

OM seeded → sandbox started (its marketplace kept in data/ so that a second demo carries on) →
prices → inventory → buyers order → orders → the OM's warehouse ships → shipments → Amazon
settles → settlement; then what each side holds and three next steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from omsync.connectors.om import OmDatabase
from omsync.connectors.warehouse import Warehouse
from omsync.flows.resources import Resources
from omsync import output
from omsync.core.settings import Secret, Settings
from omsync.sandbox import om_demo_data
from omsync.sandbox.om_simulator import ship_orders
from omsync.sandbox.process import Sandbox, start_sandbox
from omsync.transforms.amazon_items import offered_items

SANDBOX_TIME_SCALE = 600  # ten simulated minutes per second: feeds finish and orders age quickly
DEMO_ORDERS = 60
PAYOUT_WAIT_DAYS = 14  # shipping → delivery (at most 5 days) → funds released (DD+7), with a margin


@dataclass
class Demo:
    om: OmDatabase
    warehouse: Warehouse
    sandbox: Sandbox | None = None
    resources: Resources | None = None  # once the sandbox runs: what every flow of the story is handed


def run_story(settings: Settings, items: int, sites: int, customers: int, seed: int, console: Console) -> dict[str, dict]:
    """Tell the story step by step with a progress line each; returns each flow's counts."""
    from omsync.flows.registry import FLOWS

    demo = Demo(OmDatabase(settings.om_url), Warehouse.of(settings))
    state_file = settings.warehouse.with_name("sandbox-state.json")
    results: dict[str, dict] = {}

    def flow(name: str, **parameters) -> Callable[[], str]:
        def step() -> str:
            results[name] = FLOWS[name](resources=demo.resources, **parameters)
            return ", ".join(f"{k} {v:,}" for k, v in list(results[name].items())[:4])
        return step

    def seed_om() -> str:
        demo.om.init_schema()
        inserted = om_demo_data.load(demo.om, om_demo_data.generate(items, sites, customers, seed))
        demo.warehouse.init()
        return f"{sum(v for k, v in inserted.items() if k != 'seconds'):,} rows added"

    def start_amazon() -> str:
        demo.sandbox = start_sandbox("--time-scale", str(SANDBOX_TIME_SCALE), "--seed", str(seed), "--state", str(state_file))
        demo.resources = Resources(sandbox_settings(settings, demo.sandbox), demo.om, demo.warehouse)
        return f"{publish_catalog(demo.sandbox, demo.om, withdrawn=False):,} listings on {demo.sandbox.url}"

    def buyers_order() -> str:
        demo.sandbox.admin("POST", "orders", {"count": DEMO_ORDERS, "release": True})
        demo.sandbox.admin("POST", "clock/advance", {"seconds": 600})
        return f"{DEMO_ORDERS} orders placed"

    def warehouse_ships() -> str:
        shipped = ship_orders(demo.om, share=0.7, seed=seed, whole=True)
        return f"{shipped.height} shipping orders and their invoices"

    def amazon_settles() -> str:
        # Amazon pays a shipment once its funds are released, 7 days after delivery (2–5 days after
        # shipping): the period closes a fortnight on, when this demo's shipments have been released.
        demo.sandbox.admin("POST", "clock/advance", {"days": PAYOUT_WAIT_DAYS})
        report = demo.sandbox.admin("POST", "settlements", {})
        return f"settlement report {report['reportId']}"

    steps: list[tuple[str, Callable[[], str]]] = [
        ("Create and seed the embedded OM", seed_om),
        ("Start the Amazon sandbox, list the catalog", start_amazon),
        ("prices: OM AmazonPrice → Amazon", flow("prices")),
        ("inventory: available to sell → Amazon", flow("inventory")),
        ("Buyers place orders on Amazon", buyers_order),
        ("orders: Amazon → OM sales orders", flow("orders")),
        ("The OM's warehouse ships (shipping orders, invoices)", warehouse_ships),
        ("shipments: confirmations → Amazon, close in OM", flow("shipments")),
        ("A fortnight later, Amazon closes a settlement period", amazon_settles),
        ("settlement: report ↔ OM invoices", flow("settlement")),
    ]
    started = time.perf_counter()
    try:
        if console.is_terminal:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as progress:
                for title, step in steps:
                    task = progress.add_task(title, total=1)
                    outcome = escape(step())
                    progress.update(task, completed=1, description=f"[green]✓[/] {title} [dim]({outcome})[/]")
        else:  # a pipe or a log file: one plain line per step, as it finishes
            for title, step in steps:
                step_started = time.perf_counter()
                outcome = step()
                console.print(Text(f"✓ {title} ({outcome}) {time.perf_counter() - step_started:.1f} s"))
    finally:
        if demo.sandbox:
            summarise_amazon(demo.sandbox, console)
            demo.sandbox.stop()
    summarise_om(demo.om, demo.warehouse, console)
    console.print(f"[bold]Done in {time.perf_counter() - started:.0f} s.[/] Next:")
    console.print("  1. [bold]omsync serve[/]   the five flows on their schedules, with a local Prefect server")
    console.print("  2. open [bold]http://127.0.0.1:4200[/]   these runs, their summaries and problem tables")
    console.print("  3. [bold]omsync sql \"SELECT * FROM recon.settlement_summary\"[/]   or ops.runs, recon.open_receivables, …")
    return results


def sandbox_settings(settings: Settings, sandbox: Sandbox) -> Settings:
    """These settings pointed at the sandbox, with demo credentials the sandbox accepts."""
    return replace(settings, amazon_endpoint=sandbox.url, refresh_token=Secret("Atzr|omsync-demo"),
                   lwa_app_id="amzn1.application-oa2-client.omsync-demo", lwa_client_secret=Secret("omsync-demo"))


def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    """The same as variables, for flow runs in other processes (`omsync serve`'s)."""
    return {"OMSYNC_AMAZON_ENDPOINT": sandbox.url, "SP_API_REFRESH_TOKEN": "Atzr|omsync-demo",
            "LWA_APP_ID": "amzn1.application-oa2-client.omsync-demo", "LWA_CLIENT_SECRET": "omsync-demo"}


def publish_catalog(sandbox: Sandbox, om: OmDatabase, withdrawn: bool = True, skip: Collection[str] = ()) -> int:
    """The seller's listings exist on Amazon: one per OM item with an AmazonItem attribute (only those
    offered now, active and not `No`, without `withdrawn`), except the SKUs in `skip`."""
    items = om.read("SELECT item_id, item_code, backorderable, active FROM item")
    attributes = om.read("SELECT item_id, name, value, tag FROM item_attribute")
    offered = offered_items(items, attributes).join(attributes.filter(pl.col("name") == "AmazonItem").select("item_id"), on="item_id")
    listed = offered.filter(~pl.col("sku").is_in(list(skip)) & (pl.lit(withdrawn) | pl.col("included")))
    sandbox.admin("POST", "listings", {"listings": listed.select("sku", productType="product_type").to_dicts()})
    return listed.height


def summarise_amazon(sandbox: Sandbox, console: Console) -> None:
    orders = pl.DataFrame(sandbox.admin("GET", "orders")["orders"], infer_schema_length=None)
    listings = pl.DataFrame(sandbox.admin("GET", "listings")["listings"], infer_schema_length=None)
    rows = [("listings", f"{listings.height:,}")]
    for column, label in (("quantity", "with a quantity"), ("price", "with a price")):
        if column in listings.columns:
            rows.append((f"listings {label}", f"{listings[column].is_not_null().sum():,}"))
    if orders.height:
        rows += [(f"orders {status}", f"{n:,}") for status, n in orders.group_by("status").len().sort("status").iter_rows()]
    rows.append(("settlement reports", f"{len(sandbox.admin('GET', 'reports')['reports']):,}"))
    console.print(output.table(["what", "count"], rows, title="Amazon (sandbox)", right=["count"]))


def summarise_om(om: OmDatabase, warehouse: Warehouse, console: Console) -> None:
    counts = om.read(
        """
        SELECT 'Amazon sales orders' AS what, count(*) AS n FROM sales_order WHERE channel = 'AMAZON'
        UNION ALL SELECT 'customers', count(*) FROM customer
        UNION ALL SELECT 'shipping orders ' || status, count(*) FROM shipping_order GROUP BY status
        UNION ALL SELECT 'invoices ' || payment_status, count(*) FROM invoice GROUP BY payment_status
        """
    )
    console.print(output.table(["what", "count"], ((what, f"{n:,}") for what, n in counts.iter_rows()), title="OM", right=["count"]))
    with warehouse.read() as con:
        runs = con.execute("SELECT flow, outcome, count(*) FROM ops.runs GROUP BY ALL ORDER BY 1, 2").fetchall()
    console.print(output.table(["flow", "outcome", "runs"], ((f, o or "running", n) for f, o, n in runs),
                               title=f"Warehouse {warehouse.path}: ops.runs", right=["runs"]))
