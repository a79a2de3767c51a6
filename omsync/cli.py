"""The `omsync` command line (docs/design.md, the CLI contract)."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.text import Text

from omsync.flows.registry import NAMES as FLOW_NAMES  # imports no flow (nor Prefect) until one runs
from omsync import output
from omsync.core.errors import UserError
from omsync.core.settings import Settings

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
    rich_markup_mode=None,  # Click's plain help: Rich's cuts long option names at 80 columns
)
om_app = typer.Typer(help="Create and fill the OM database (OMSYNC_OM_URL).", no_args_is_help=True)
app.add_typer(om_app, name="om")
prices_app = typer.Typer(help="Guarded price changes.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")
amazon_app = typer.Typer(help="The Amazon account omsync works with.", no_args_is_help=True)
app.add_typer(amazon_app, name="amazon")
settlement_app = typer.Typer(help="Settlement reports downloaded from Seller Central.", no_args_is_help=True)
app.add_typer(settlement_app, name="settlement")
console = output.console()
DEBUG = False  # --debug: Python's and Prefect's tracebacks instead of one-line errors
ORIGIN: dict[str, str] = {}  # where each setting came from (omsync.config.apply)
Items = Annotated[int, typer.Option(min=1, help="Number of items.")]
Sites = Annotated[int, typer.Option(min=1, max=99, help="Number of sites (warehouses).")]
Customers = Annotated[int, typer.Option(min=0, help="Number of existing OM customers.")]
Seed = Annotated[int, typer.Option(help="Seed: the same seed gives the same data.")]


def _settings() -> Settings:
    return Settings.from_env()


def _show_version(value: bool) -> None:
    if value:
        from omsync import __version__

        print(f"omsync {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks (Python's and Prefect's) instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Keep an Order Management system and Amazon Seller Central in step."""
    from omsync import config

    global DEBUG, ORIGIN
    DEBUG = debug
    ORIGIN = config.apply()
    keep_prefect_home_with_the_data()


def keep_prefect_home_with_the_data() -> None:
    """Prefect's history beside the warehouse (data/prefect), as ops.runs is, unless PREFECT_HOME is set:
    not the user's ~/.prefect, shared by every checkout on the machine."""
    from omsync.core.settings import DEFAULT_WAREHOUSE

    if not os.environ.get("PREFECT_HOME"):
        home = (Path(os.environ.get("OMSYNC_WAREHOUSE") or DEFAULT_WAREHOUSE).parent / "prefect").resolve()
        try:  # Prefect creates only the last folder, with a warning on the terminal when it cannot
            home.mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # the warehouse check names the unusable folder
        os.environ["PREFECT_HOME"] = str(home)


@app.command("config")
def show_config() -> None:
    """Print the settings in effect (secrets masked) and where each came from: the environment,
    omsync.toml (or the file OMSYNC_CONFIG names) or the default. The environment wins."""
    from omsync import config

    console.print(output.table(["omsync.toml key", "environment variable", "value", "from"],
                               config.effective(os.environ, ORIGIN), title="omsync settings"))
    _settings()  # a bad value is reported after the table, as every command would


@om_app.command("init")
def om_init() -> None:
    """Create the OM contract tables (SQLite or PostgreSQL); safe to run again."""
    from omsync.connectors.om import OmDatabase

    settings = _settings()
    om = OmDatabase(settings.om_url)
    tables = om.init_schema()
    console.print(f"OM schema ready in {om.masked_url}: {len(tables)} tables")


def _seed(settings: Settings, items: int, sites: int, customers: int, seed: int):
    """Create the OM schema if needed and load the demo data; returns the OM and what was inserted."""
    from omsync.connectors.om import OmDatabase
    from omsync.sandbox import om_demo_data

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
    rows = ((name, f"{inserted[name]:,}", f"{count:,}") for name, count in om.counts().items() if name in inserted)
    console.print(output.table(["table", "inserted", "total"], rows, title=f"Seeded {om.masked_url} in {elapsed:.1f} s",
                               right=["inserted", "total"]))


@app.command("sql")
def sql(
    query: str = typer.Argument(..., help="One SELECT statement over the ops, recon and landing schemas."),
    format: str = typer.Option("table", "--format", "-f", help="table, csv, json or parquet."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
    at: Optional[str] = typer.Option(None, "--at", help="Answer as of this moment, e.g. '2026-12-01 09:30:00+00'."),
    snapshot: Optional[int] = typer.Option(None, "--snapshot", min=0, help="Answer as of this snapshot (`omsync warehouse snapshots`)."),
) -> None:
    """Run a read-only query on one snapshot of the warehouse (the newest unless --at or --snapshot)."""
    from omsync.connectors.warehouse import Warehouse
    from omsync.adhoc_sql import render, run_query

    if format not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter("choose table, csv, json or parquet", param_hint="--format")
    if at is not None and snapshot is not None:
        raise typer.BadParameter("give --at or --snapshot, not both", param_hint="--at")
    settings = _settings()
    frame = run_query(Warehouse.of(settings), query, snapshot=snapshot, at=at)
    if format == "table":
        output.print_rows(output.console(out.open("w") if out else None), frame.columns, frame.rows())
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
    from omsync.connectors.warehouse import Warehouse

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
    rows = ((str(number), when.strftime("%Y-%m-%d %H:%M:%S.%f"), "; ".join(f"{what}: {', '.join(names)}" for what, names in changes.items()))
            for number, when, changes in frame.iter_rows())
    console.print(output.table(["snapshot", "time (UTC)", "changes"], rows, title="Warehouse snapshots", right=["snapshot"]))


@app.command("demo")
def demo(
    items: Items = 2000, sites: Sites = 3, customers: Customers = 500, seed: Seed = 7
) -> None:
    """The whole story offline: seed the OM, start the Amazon sandbox, run prices → inventory → orders →
    shipments → settlement as real Prefect flow runs, then show what each side holds."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the progress lines tell the story
    from omsync import demo as story

    settings = _settings()
    _use_prefect(settings)
    story.run_story(settings, items, sites, customers, seed, console)


@app.command("serve")
def serve(
    port: int = typer.Option(4200, help="Port of the local Prefect server and UI (reused when already running)."),
    every: list[str] = typer.Option([], "--every", help="Override a schedule: FLOW=SECONDS, e.g. --every orders=60."),
    notify: Optional[str] = typer.Option(None, "--notify", metavar="URL",
                                         help="Post an alert to this webhook when a run fails or has problems (or OMSYNC_NOTIFY_URL)."),
    run_now: bool = typer.Option(True, "--run-now/--no-run-now", help="Run each flow once at start, then on its schedule."),
) -> None:
    """Run the flows on their schedules (prefect.yaml) with a local Prefect server and UI; against the
    sandbox and the embedded OM unless OMSYNC_* settings point elsewhere. Ctrl-C stops everything it started."""
    from omsync import serve as serving

    serving.serve(_settings(), port, serving.parse_every(every), console, notify or os.environ.get("OMSYNC_NOTIFY_URL"), run_now)


@app.command("run")
def run_flow(
    name: str = typer.Argument(..., help=f"The flow: {', '.join(FLOW_NAMES[:-1])} or {FLOW_NAMES[-1]}."),
    full: bool = typer.Option(False, "--full", help="Send everything, not only what changed."),
) -> None:
    """Run one flow now, as a Prefect flow run (it shows in the Prefect UI). With no Amazon settings it
    uses the marketplace of `omsync demo` and `omsync serve` (the sandbox, data/sandbox-state.json)."""
    from omsync import serve as serving

    if name not in FLOW_NAMES:
        raise typer.BadParameter(f"choose one of: {', '.join(FLOW_NAMES)}", param_hint="NAME")
    settings = _settings()
    if _use_prefect(settings) and (deployment := serving.served_deployment(name)):
        # `omsync serve` is up: the run is the deployment's (its Activity shows it), with serve's settings
        state = serving.run_deployment_now(deployment, {"full": True} if full else {}, console)
        if state != "Completed":
            raise UserError(f"the {deployment} run ended {state}: its logs are in the Prefect UI")
        return
    with serving.marketplace(settings, console) as settings:
        _preflight(settings, amazon=True)
        from omsync.flows.registry import FLOWS  # only now: Prefect reads PREFECT_API_URL once, at import
        from omsync.flows.resources import Resources

        flow = FLOWS[name]
        with Resources(settings) as resources:
            counts = flow(full=full, resources=resources) if "full" in flow.parameters.properties else flow(resources=resources)
    _print_counts(f"omsync run {name}", counts)


def _preflight(settings: Settings, amazon: bool) -> None:
    """The OM, the warehouse and (when the command needs it) Amazon are usable: else one line, before Prefect starts."""
    from omsync import checks

    checks.require(checks.check_om(settings))
    checks.require(checks.check_warehouse(settings, create=True))
    if amazon:
        err = output.console(stderr=True)
        checks.require(checks.check_amazon(settings, say=lambda line: err.print(output.cell(line))))


def _use_prefect(settings: Settings) -> str | None:
    """Send runs to PREFECT_API_URL or the server `omsync serve` started (returned; None: a temporary one);
    Prefect's tracebacks only with --debug."""
    from omsync.prefect_server import quiet_tracebacks, use_running_server
    from omsync.serve import server_record

    running = use_running_server(record=server_record(settings))
    if not DEBUG:
        quiet_tracebacks()
    logging.getLogger("omsync").setLevel(logging.INFO)  # the terminal shows Amazon's retries as they happen
    return running


def _print_counts(title: str, counts: dict[str, int]) -> None:
    console.print(output.table(["what", "count"], ((what, f"{count:,}") for what, count in counts.items()),
                               title=title, right=["count"]))


@settlement_app.command("import")
def settlement_import(files: list[Path] = typer.Argument(..., help="V2 settlement report files (.txt, gzip or not).")) -> None:
    """Reconcile settlement reports downloaded from Seller Central, as a Prefect flow run; a settlement
    already applied (from Amazon or an earlier import) is recognised and skipped."""
    from omsync.core.errors import ConfigError

    unreadable = [str(f) for f in files if not f.is_file() or not os.access(f, os.R_OK)]
    if unreadable:
        raise ConfigError(f"no readable settlement file at: {', '.join(unreadable)}")
    settings = _settings()
    _preflight(settings, amazon=False)
    _use_prefect(settings)
    from omsync.flows.resources import Resources
    from omsync.flows.settlement import settlement

    with Resources(settings) as resources:
        _print_counts("omsync settlement import", settlement(files=[str(f) for f in files], resources=resources))


By = Annotated[str, typer.Option("--by", help="Who decides (recorded with the decision); default: your login name.")]
CHANGE_COLUMNS = ["sku", "previous", "new price", "change %"]


def _login() -> str:
    import getpass

    return getpass.getuser()


def _changes(frame) -> list[tuple]:
    return [(r["sku"], r["previous"], r["price"], f"{r['change_percent']:+.1f}") for r in frame.iter_rows(named=True)]


def _not_held(asked: list[str], done, verb: str) -> None:
    missing = sorted(set(asked) - set(done["sku"]))
    if missing:
        output.console(stderr=True).print(output.cell(f"not held, nothing to {verb}: {', '.join(missing)}"))
        raise typer.Exit(1)


@prices_app.command("held")
def prices_held() -> None:
    """List the price changes held for a person (a fall over 50 % or a rise over 200 % of Amazon's accepted price)."""
    from omsync.connectors.warehouse import Warehouse
    from omsync.connectors import price_guard

    settings = _settings()
    with Warehouse.of(settings).read() as con:
        held = price_guard.held(con, settings.marketplace_id)
    rows = [(*change, f"{at:%Y-%m-%d %H:%M}") for change, at in zip(_changes(held), held["held_at"])]
    output.print_rows(console, [*CHANGE_COLUMNS, "held since (UTC)"], rows, title="Held for approval: omsync prices approve|reject SKU…")


@prices_app.command("approve")
def prices_approve(
    skus: list[str] = typer.Argument(None, help="SKUs whose held price change is right."),
    all_held: bool = typer.Option(False, "--all", help="Approve every held change."),
    by: By = "",
) -> None:
    """Release held price changes; the next prices run sends them."""
    from omsync.connectors.warehouse import Warehouse
    from omsync.connectors import price_guard

    if bool(skus) == all_held:
        raise typer.BadParameter("give SKUs or --all", param_hint="SKUS")
    settings = _settings()
    with Warehouse.of(settings).write() as con:
        approved = price_guard.approve(con, settings.marketplace_id, None if all_held else skus, by or _login())
    if approved.height:
        console.print(output.table(CHANGE_COLUMNS, _changes(approved), title="Approved; sent by the next prices run",
                                   right=CHANGE_COLUMNS[1:]))
    elif all_held:
        console.print("No price change is held.")
    _not_held(skus or [], approved, "approve")


@prices_app.command("reject")
def prices_reject(skus: list[str] = typer.Argument(..., help="SKUs whose held price change is wrong."), by: By = "") -> None:
    """Refuse held price changes: Amazon keeps its accepted price, and the same OM price is never sent;
    correct the price in the OM and the next prices run sends the new one (or holds it again)."""
    from omsync.connectors.warehouse import Warehouse
    from omsync.connectors import price_guard

    settings = _settings()
    with Warehouse.of(settings).write() as con:
        rejected = price_guard.reject(con, settings.marketplace_id, skus, by or _login())
    if rejected.height:
        console.print(output.table(CHANGE_COLUMNS, _changes(rejected), title="Rejected; Amazon keeps the previous price",
                                   right=CHANGE_COLUMNS[1:]))
    _not_held(skus, rejected, "reject")


@app.command("status")
def status(amazon: bool = typer.Option(True, "--amazon/--no-amazon", help="Probe Amazon as well.")) -> None:
    """The morning check: OM, warehouse and Amazon reachable; each flow's last run, outcome and age; orders
    lag; feeds pending; prices held; open problems by kind; late shipments; receivables overdue.
    Exit code 1 when something needs a person (for a monitor), 2 when settings are wrong."""
    from omsync import serve as serving
    from omsync import status as morning

    settings = _settings()
    intervals = {spec["name"]: spec["schedules"][0]["interval"] for spec in serving.read_deployments()}
    sandbox = serving.wants_sandbox(settings)
    lines = morning.report(settings, intervals, amazon=amazon and not sandbox)
    if amazon and sandbox:
        lines.insert(2, morning.Line("Amazon", "sandbox", "no Amazon configured: run, demo and serve start the sandbox", False))
    console.print(output.table(["", "what", "state", "detail"], (("!" if l.attention else "", l.what, l.state, l.detail) for l in lines),
                               title="omsync status"))
    needing = sum(l.attention for l in lines)
    console.print(output.cell(f"{needing} need{'s' if needing == 1 else ''} a person (marked !)" if needing else "All well."))
    if needing:
        raise typer.Exit(1)


@amazon_app.command("check")
def amazon_check() -> None:
    """Call one cheap operation per role the flows need and say which role is missing (exit code 1)."""
    from omsync.connectors.amazon import AmazonConnector, RetryPolicy
    from omsync import checks
    from omsync.amazon_check import check_roles

    settings = _settings()
    err = output.console(stderr=True)
    checks.require(checks.check_amazon(settings, say=lambda line: err.print(output.cell(line))))
    with AmazonConnector(settings, retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=2.0)) as amazon:
        found = check_roles(amazon)
    where = settings.amazon_endpoint or f"Amazon ({settings.marketplace_id})"
    console.print(output.table(["role", "operation", "needed by", "verdict", "what to do"],
                               ((c.role, c.operation, c.needed_by, c.verdict, c.detail) for c in found), title=f"Roles at {where}"))
    missing = [c.role for c in found if c.verdict != "ok"]
    if missing:
        err.print(output.cell(f"not usable: {'; '.join(missing)}"))
        raise typer.Exit(1)


@amazon_app.command("subscribe")
def amazon_subscribe(
    queue_arn: Optional[str] = typer.Option(None, "--queue-arn", help="The standard SQS queue ORDER_CHANGE notifications go to."),
    show: bool = typer.Option(False, "--show", help="Only show the destinations and the ORDER_CHANGE subscription."),
) -> None:
    """Send ORDER_CHANGE notifications to an SQS queue: creates the Notifications API destination and the
    subscription, reusing what exists (a second run creates nothing), and shows what exists."""
    from omsync.connectors.amazon import AmazonConnector, AmazonRejected, RetryPolicy
    from omsync import checks

    if bool(queue_arn) == show:
        raise typer.BadParameter("give --queue-arn ARN, or --show", param_hint="--queue-arn")
    settings = _settings()
    err = output.console(stderr=True)
    checks.require(checks.check_amazon(settings, say=lambda line: err.print(output.cell(line))))
    with AmazonConnector(settings, retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=2.0)) as amazon:
        try:
            setup = amazon.notification_setup() if show else amazon.subscribe_order_change(queue_arn)
        except AmazonRejected as exc:
            if exc.status == 403:
                raise UserError(f"{exc}; the application (or the seller's authorisation) lacks the role this needs: "
                                "add it to the app in Seller Central, then authorise it again") from None
            raise
    sub = setup.subscription
    rows = [(*((sub.notification_type, sub.payload_version, sub.subscription_id) if sub and sub.destination_id == d.destination_id
               else ("", "", "")), d.destination_id, d.arn) for d in setup.destinations]
    where = settings.amazon_endpoint or f"Amazon ({settings.marketplace_id})"
    output.print_rows(console, ["notification type", "payload version", "subscription id", "destination id", "destination ARN"], rows,
                      title=f"Notifications at {where}")
    if not show:
        console.print(output.cell(f"created: {', '.join(setup.created)}" if setup.created else "nothing created: all of it existed"))


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
    from omsync.sandbox import run

    settings = _settings()
    run.main(port, seed, time_scale, state, settings.marketplace_id, settings.seller_id, order_rate,
             settlement_days, validate_responses, usage_plans, sqs_endpoint)


def main() -> None:
    """Entry point: user-facing errors are one line on stderr and exit code 2 (the traceback with --debug)."""
    try:
        app()
    except UserError as exc:
        if DEBUG:
            raise
        output.console(stderr=True).print(Text.assemble(("error:", "red"), " ", " ".join(str(exc).split())))
        raise SystemExit(2) from None
