"""The `omsync` command line (DESIGN.md, CLI contract)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from flows.registry import NAMES as FLOW_NAMES  # imports no flow (nor Prefect) until one runs
from omsync.errors import UserError
from omsync.settings import Settings

# Offline by design: Prefect's telemetry would only log connection errors.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Without a server, a flow run starts a temporary one; its first start migrates a new database,
# which takes longer than Prefect's default 20 s wait on a small machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

app = typer.Typer(
    help="Keep an Order Management system and Amazon Seller Central in step.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
om_app = typer.Typer(help="Create and fill the OM database (OMSYNC_OM_URL).", no_args_is_help=True)
app.add_typer(om_app, name="om")
prices_app = typer.Typer(help="Guarded price changes.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")
settlement_app = typer.Typer(help="Settlement reports downloaded from Seller Central.", no_args_is_help=True)
app.add_typer(settlement_app, name="settlement")
console = Console()
Items = Annotated[int, typer.Option(min=1, help="Number of items.")]
Sites = Annotated[int, typer.Option(min=1, max=99, help="Number of sites (warehouses).")]
Customers = Annotated[int, typer.Option(min=0, help="Number of existing OM customers.")]
Seed = Annotated[int, typer.Option(help="Seed: the same seed gives the same data.")]


def _settings() -> Settings:
    return Settings.from_env()


@om_app.command("init")
def om_init() -> None:
    """Create the OM contract tables (SQLite or PostgreSQL); safe to run again."""
    from connectors.om import OmDatabase

    settings = _settings()
    om = OmDatabase(settings.om_url)
    tables = om.init_schema()
    console.print(f"OM schema ready in {om.masked_url}: {len(tables)} tables")


def _seed(settings: Settings, items: int, sites: int, customers: int, seed: int):
    """Create the OM schema if needed and load the demo data; returns the OM and what was inserted."""
    from connectors.om import OmDatabase
    from sandbox import om_demo_data

    om = OmDatabase(settings.om_url)
    om.init_schema()
    return om, om_demo_data.load(om, om_demo_data.generate(items, sites, customers, seed))


@om_app.command("seed")
def om_seed(
    items: Items = 2000, sites: Sites = 3, customers: Customers = 500, seed: Seed = 7
) -> None:
    """Fill the OM with deterministic demo data; rows already there are kept, never duplicated."""
    started = time.perf_counter()
    om, inserted = _seed(_settings(), items, sites, customers, seed)
    elapsed = time.perf_counter() - started
    table = Table(title=f"Seeded {om.masked_url} in {elapsed:.1f} s")
    table.add_column("table")
    table.add_column("inserted", justify="right")
    table.add_column("total", justify="right")
    totals = om.counts()
    for name, count in totals.items():
        if name in inserted:
            table.add_row(name, f"{inserted[name]:,}", f"{count:,}")
    console.print(table)


@app.command("sql")
def sql(
    query: str = typer.Argument(..., help="One SELECT statement over the ops, recon and landing schemas."),
    format: str = typer.Option("table", "--format", "-f", help="table, csv, json or parquet."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
    at: Optional[str] = typer.Option(None, "--at", help="Answer as of this moment, e.g. '2026-12-01 09:30:00+00'."),
    snapshot: Optional[int] = typer.Option(None, "--snapshot", min=0, help="Answer as of this snapshot (`omsync warehouse snapshots`)."),
) -> None:
    """Run a read-only query on one snapshot of the warehouse (the newest unless --at or --snapshot)."""
    from connectors.warehouse import Warehouse
    from omsync.adhoc_sql import render, run_query

    if format not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter("choose table, csv, json or parquet", param_hint="--format")
    if at is not None and snapshot is not None:
        raise typer.BadParameter("give --at or --snapshot, not both", param_hint="--at")
    settings = _settings()
    frame = run_query(Warehouse.of(settings), query, snapshot=snapshot, at=at)
    if format == "table":
        table = Table(*frame.columns)
        for row in frame.iter_rows():
            table.add_row(*("" if v is None else str(v) for v in row))
        Console(file=out.open("w") if out else sys.stdout).print(table)
        return
    payload = render(frame, format)  # type: ignore[arg-type]
    if out:
        out.write_bytes(payload)
    else:
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()


@app.command("shell")
def shell() -> None:
    """Open the DuckDB CLI on the warehouse, read-only and confined to it, offline (ops, recon, landing)."""
    from omsync.adhoc_sql import shell_command

    command = shell_command(_warehouse())
    sys.stdout.flush()
    os.execv(command[0], command)


def _warehouse():
    from connectors.warehouse import Warehouse

    return Warehouse.of(_settings())


warehouse_app = typer.Typer(help="The warehouse (DuckLake): create, move in, list snapshots.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")


@warehouse_app.command("migrate")
def warehouse_migrate() -> None:
    """Create or migrate the warehouse; a single-file warehouse of an earlier version at OMSYNC_WAREHOUSE
    is moved in once (flows do the same on first use)."""
    warehouse = _warehouse()
    single_file = warehouse.path.is_file() and not warehouse.exists()
    tables = warehouse.init()
    moved = f"; {warehouse.path} moved in (it can be deleted)" if single_file else ""
    console.print(f"warehouse ready in {warehouse.shown}: {len(tables)} tables and views{moved}", highlight=False)


@warehouse_app.command("snapshots")
def warehouse_snapshots(last: int = typer.Option(20, min=1, help="How many of the newest to show.")) -> None:
    """The committed snapshots, newest last: what `omsync sql --snapshot N` and `--at` travel to."""
    frame = _warehouse().snapshots().tail(last)
    table = Table("snapshot", "time (UTC)", "changes", title="Warehouse snapshots")
    for number, when, changes in frame.iter_rows():
        table.add_row(str(number), when.strftime("%Y-%m-%d %H:%M:%S.%f"),
                      "; ".join(f"{what}: {', '.join(names)}" for what, names in changes.items()))
    console.print(table)


@app.command("demo")
def demo(
    items: Items = 2000, sites: Sites = 3, customers: Customers = 500, seed: Seed = 7
) -> None:
    """The whole story offline: seed the OM, start the Amazon sandbox, run prices → inventory → orders →
    shipments → settlement as real Prefect flow runs, then show what each side holds."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the progress lines tell the story
    from omsync import demo as story
    from omsync.prefect_server import use_running_server

    use_running_server()
    story.run_story(_settings(), items, sites, customers, seed, console)


@app.command("serve")
def serve(
    port: int = typer.Option(4200, help="Port of the local Prefect server and UI (reused when already running)."),
    every: list[str] = typer.Option([], "--every", help="Override a schedule: FLOW=SECONDS, e.g. --every orders=60."),
) -> None:
    """Run the flows on their schedules (prefect.yaml) with a local Prefect server and UI; against the
    sandbox and the embedded OM unless OMSYNC_* settings point elsewhere. Ctrl-C stops everything it started."""
    from omsync import serve as serving

    serving.serve(_settings(), port, serving.parse_every(every), console)


@app.command("run")
def run_flow(
    name: str = typer.Argument(..., help=f"The flow: {', '.join(FLOW_NAMES[:-1])} or {FLOW_NAMES[-1]}."),
    full: bool = typer.Option(False, "--full", help="Send everything, not only what changed."),
) -> None:
    """Run one flow now, as a Prefect flow run (it shows in the Prefect UI)."""
    from flows.registry import FLOWS
    from flows.resources import Resources

    if name not in FLOWS:
        raise typer.BadParameter(f"choose one of: {', '.join(FLOWS)}", param_hint="NAME")
    flow = FLOWS[name]
    with Resources(_settings()) as resources:
        counts = flow(full=full, resources=resources) if "full" in flow.parameters.properties else flow(resources=resources)
    _print_counts(f"omsync run {name}", counts)


def _print_counts(title: str, counts: dict[str, int]) -> None:
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for what, count in counts.items():
        table.add_row(what, f"{count:,}")
    console.print(table)


@settlement_app.command("import")
def settlement_import(files: list[Path] = typer.Argument(..., help="V2 settlement report files (.txt, gzip or not).")) -> None:
    """Reconcile settlement reports downloaded from Seller Central, as a Prefect flow run; a settlement
    already applied (from Amazon or an earlier import) is recognised and skipped."""
    from flows.resources import Resources
    from flows.settlement import settlement

    with Resources(_settings()) as resources:
        _print_counts("omsync settlement import", settlement(files=[str(f) for f in files], resources=resources))


@prices_app.command("approve")
def prices_approve(skus: list[str] = typer.Argument(..., help="SKUs whose held price change is right.")) -> None:
    """Release held price changes (a fall over 50 % or a rise over 200 %); the next prices run sends them."""
    from connectors import ops
    from connectors.warehouse import Warehouse

    settings = _settings()
    with Warehouse.of(settings).write() as con:
        approved = ops.approve_prices(con, settings.marketplace_id, skus)
    if approved.height:
        table = Table("sku", "previous", "new price", "change %", title="Approved; sent by the next prices run")
        for row in approved.iter_rows(named=True):
            table.add_row(row["sku"], str(row["previous"]), str(row["price"]), f"{row['change_percent']:+.1f}")
        console.print(table)
    missing = sorted(set(skus) - set(approved["sku"]))
    if missing:
        Console(stderr=True).print(f"not held, nothing to approve: {', '.join(missing)}", highlight=False)
        raise typer.Exit(1)


@app.command("simulate")
def simulate(
    hours: float = typer.Option(24.0, min=0.1, help="Simulated hours of trading."),
    seed: int = typer.Option(1, help="Seed of the whole day: the same seed gives the same scorecard."),
    orders_per_hour: float = typer.Option(130.0, "--orders-per-hour", min=0, help="Orders buyers place per simulated hour."),
    out: Path = typer.Option(Path("data/simulate"), help="Folder for scorecard.json, scorecard.md, the charts and the day's OM."),
) -> None:
    """A trading day offline in simulated time (sandbox, embedded OM, the five flows on prefect.yaml's
    schedules as real Prefect flow runs), judged by the merchant's scorecard."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")  # the card tells the story; failures show in it
    from omsync import simulate as day
    from omsync.prefect_server import use_running_server

    use_running_server()
    day.simulate(day.Day(hours=hours, seed=seed, orders_per_hour=orders_per_hour), out, console)
    console.print(f"scorecard.json, scorecard.md and charts in [bold]{out}[/]")


@app.command("sandbox")
def sandbox(
    port: int = typer.Option(8900, help="Port on 127.0.0.1 (0 picks a free one)."),
    seed: int = typer.Option(0, help="Seed of the simulated marketplace: same seed, same buyers and orders."),
    time_scale: float = typer.Option(1.0, "--time-scale", min=0.001, help="Simulated seconds per real second."),
    state: Optional[Path] = typer.Option(None, help="Keep the marketplace in this file across restarts."),
    order_rate: float = typer.Option(0.0, "--order-rate", min=0, help="Orders buyers place per simulated hour."),
    settlement_days: float = typer.Option(14.0, "--settlement-days", min=0.01, help="Length of a settlement period."),
    validate_responses: bool = typer.Option(False, "--validate-responses", help="Check every answer against Amazon's models."),
    usage_plans: bool = typer.Option(True, "--usage-plans/--no-usage-plans", help="Throttle like Amazon (off: benchmark our side only)."),
    sqs_endpoint: Optional[str] = typer.Option(None, "--sqs-endpoint", help="SQS for notifications (default: a local moto server)."),
) -> None:
    """Run the local Amazon SP-API sandbox (LWA, Feeds, Listings, Orders, Reports) on 127.0.0.1."""
    from sandbox import run

    settings = _settings()
    run.main(port, seed, time_scale, state, settings.marketplace_id, settings.seller_id, order_rate,
             settlement_days, validate_responses, usage_plans, sqs_endpoint)


def main() -> None:
    """Entry point: user-facing errors are one line on stderr and exit code 2."""
    try:
        app()
    except UserError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
