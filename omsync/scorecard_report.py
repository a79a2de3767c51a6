"""The scorecard shown and kept: a Rich table, scorecard.json, scorecard.md and SVG charts, also as
Prefect artifacts when a flow run is current."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from rich.console import Console
from rich.table import Table

from omsync import charts

SECTIONS = ["oversold", "orders", "stock_truth", "price_truth", "cancellations", "shipments", "cash"]
CHARTS = {"stock": "chart-stock.svg", "latency": "chart-latency.svg", "cash": "chart-cash.svg"}


def _label(name: str) -> str:
    return name.replace("_", " ")


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def rows(card: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(section, figure, value) for every figure of the card's sections."""
    return [(section, _label(name), _value(value)) for section in SECTIONS for name, value in card[section].items()]


def markdown(card: dict[str, Any]) -> str:
    period = card["period"]
    lines = [f"# Trading-day scorecard: {period['hours']:g} h, seed {period['seed']}, {period['orders_per_hour']:g} orders/h",
             "", f"{period['amazon_orders']:,} Amazon orders ({period['merchant_orders']:,} merchant-fulfilled), "
             f"{period['skus_listed']:,} SKUs listed, from {period['start']}.", "", "| section | figure | value |", "|---|---|---:|"]
    lines += [f"| {s} | {f} | {v} |" for s, f, v in rows(card)]
    lines += ["", "## Amazon calls", "", "| operation | calls | 429s | share of plan |", "|---|---:|---:|---:|"]
    lines += [f"| {r['operation']} | {r['calls']:,} | {r['throttled']:,} | {_value(r['plan_share'])} |" for r in card["amazon"]]
    lines += ["", "## Runs", "", "| flow | runs | failed | problems reported |", "|---|---:|---:|---:|"]
    lines += [f"| {r['flow']} | {r['runs']:,} | {r['failed']:,} | {r['problems']:,} |" for r in card["runs"]]
    lines += ["", *[f"![{name}]({file})" for name, file in CHARTS.items()], ""]
    return "\n".join(lines)


def svgs(series: dict[str, Any]) -> dict[str, str]:
    stock = {f"{sku} {side}": points for sku, sides in list(series["stock"].items())[:2]
             for side, points in (("Amazon", sides["amazon"]), ("OM free", sides["om"]))}
    return {
        CHARTS["stock"]: charts.step_lines("Stock on Amazon vs free in the OM (worst SKUs)", stock),
        CHARTS["latency"]: charts.histogram("Order latency: Amazon order → OM sales order", series["latency_minutes"], x_label="simulated minutes"),
        CHARTS["cash"]: charts.paired_bars("Cash per settlement: Amazon paid vs OM recorded", series["cash"], ("Amazon paid", "OM recorded paid")),
    }


def write(card: dict[str, Any], series: dict[str, Any], out: Path) -> None:
    """scorecard.json, scorecard.md and the charts in `out`."""
    (out / "scorecard.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    (out / "scorecard.md").write_text(markdown(card))
    for file, svg in svgs(series).items():
        (out / file).write_text(svg)


def show(card: dict[str, Any], console: Console, wall_seconds: float) -> None:
    table = Table(title=f"Trading-day scorecard ({card['period']['hours']:g} simulated hours, seed {card['period']['seed']}, "
                        f"{card['period']['amazon_orders']:,} orders; {wall_seconds:.0f} s)")
    table.add_column("section")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for section, figure, value in rows(card):
        table.add_row(section, figure, value)
    for r in card["runs"]:
        table.add_row("runs", r["flow"], f"{r['runs']} runs, {r['failed']} failed, {r['problems']} problems")
    throttled = sum(r["throttled"] for r in card["amazon"])
    table.add_row("amazon", "calls / 429s", f"{sum(r['calls'] for r in card['amazon']):,} / {throttled:,}")
    console.print(table)


def progress_printer(console: Console):
    """A line every simulated hour."""
    def printed(step: int, steps: int) -> None:
        if step % 60 == 0:
            console.print(f"[dim]simulated {step // 60} h of {steps // 60} h[/]")
    return printed


@flow(name="simulate")
def publish(out: str) -> None:
    """The written card as a Prefect artifact of this run, its charts inline (the UI cannot reach files in `out`)."""
    folder = Path(out)
    text = (folder / "scorecard.md").read_text()
    for file in CHARTS.values():
        inline = base64.b64encode((folder / file).read_bytes()).decode()
        text = text.replace(f"]({file})", f"](data:image/svg+xml;base64,{inline})")
    create_markdown_artifact(text, key="scorecard", description="trading-day scorecard")
