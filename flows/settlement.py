"""settlement (Amazon → OM): each settlement report reconciled with the OM's invoices, applied once
ever; then the Terms mark what is overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from connectors import ops, recon
from connectors.amazon import AmazonConnector
from connectors.om import OmDatabase
from connectors.om_settlement import apply_payments, invoices_for_orders, mark_overdue, open_invoices
from connectors.warehouse import Warehouse
from flows.runs import PROBLEM_SCHEMA, recorded_run
from omsync.errors import UserError
from omsync.settings import Settings
from transforms.money import money_text
from transforms.settlement import (EXCEPTION_SCHEMA, Reconciliation, balance, classify_lines, find_overdue, line_exceptions,
                                   reconcile_orders, settle_orders)
from transforms.settlement_report import ParsedReport, ReportFormatError, decode_report, parse_settlement_report

WATERMARK = "created_since"
RETENTION_DAYS = 90  # Amazon keeps settlement reports this long


@dataclass(frozen=True)
class Document:
    """One settlement report file, from Amazon or from disk, as text."""

    source: str
    text: str
    report_id: str | None = None
    created_time: str | None = None


@dataclass
class Applied:
    settlement_id: str
    outcome: str  # applied | already applied
    settlement: dict
    reconciliation: Reconciliation | None = None
    exceptions: pl.DataFrame | None = None


@task(cache_policy=NO_CACHE)
def fetch_reports(amazon: AmazonConnector, mark: str | None, seen: set[str], overlap_days: float) -> tuple[list[Document], str | None]:
    """Settlement reports created since the watermark (minus an overlap) and not read yet, and the next watermark."""
    oldest = amazon.amazon_now() - timedelta(days=RETENTION_DAYS)
    since = max(datetime.fromisoformat(mark) - timedelta(days=overlap_days), oldest) if mark else oldest
    reports = amazon.list_settlement_reports(since)
    documents = []
    for report in reports:
        if report["reportId"] in seen:
            continue
        document = amazon.download_report(report["reportDocumentId"])
        documents.append(Document(f"report {report['reportId']}", decode_report(document.content, document.charset),
                                  report["reportId"], report.get("createdTime")))
    newest = max((r["createdTime"] for r in reports), default=mark)
    return documents, newest


def read_files(paths: list[str]) -> list[Document]:
    """Report files a user downloaded from Seller Central (backfill)."""
    documents = []
    for path in paths:
        try:
            content = Path(path).read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read settlement file {path}: {exc.strerror}") from None
        documents.append(Document(str(Path(path).resolve()), decode_report(content, None)))
    return documents


def settlements_in(parsed: ParsedReport) -> list[str]:
    """Every settlement id the file mentions, in order of appearance."""
    ids = pl.concat([parsed.summaries.select("settlement_id"), parsed.lines.select("settlement_id"),
                     parsed.bad_rows.select("settlement_id").drop_nulls()])
    return ids.unique(maintain_order=True)["settlement_id"].to_list()


@task(cache_policy=NO_CACHE)
def apply_settlement(om: OmDatabase, warehouse: Warehouse, document: Document, parsed: ParsedReport, settlement_id: str) -> Applied:
    """Reconcile one settlement, commit its payments to the OM in one transaction, then record it
    in the warehouse. Rerun after a kill, it recomputes the same payments and the OM keeps one each."""
    summary = parsed.summaries.filter(pl.col("settlement_id") == settlement_id).head(1)
    lines = classify_lines(parsed.lines.filter(pl.col("settlement_id") == settlement_id))
    bad = parsed.bad_rows.filter(pl.col("settlement_id") == settlement_id)
    head = summary.row(0, named=True) if summary.height else {"settlement_id": settlement_id}
    deposit = head.get("deposit_date")
    reported = head.get("reported_total")
    computed, balanced = balance(reported, lines)

    settled = settle_orders(lines)
    incomplete = settled.join(bad.select("order_id").drop_nulls().unique(), on="order_id")
    settled = settled.join(incomplete.select("order_id"), on="order_id", how="anti")
    invoices, known = invoices_for_orders(om, settled["order_id"], settlement_id)
    result = reconcile_orders(settled, invoices, known, settlement_id, deposit.date() if deposit else None)
    apply_payments(om, result.payments, result.invoices)

    exceptions = pl.concat([
        result.exceptions, line_exceptions(lines), _bad_row_exceptions(bad),
        incomplete.select(kind=pl.lit("incomplete_order"), key=pl.concat_str("settlement_id", "order_id", separator=":"),
                          settlement_id="settlement_id", order_id="order_id", amount="settled",
                          reason=pl.lit("a row of this order did not parse: fix the file and import it again"), raw=pl.lit(None, pl.String))
        .cast(EXCEPTION_SCHEMA),
        _balance_exception(settlement_id, reported, computed, balanced, summary.height > 0),
    ])
    row = pl.DataFrame([{
        "settlement_id": settlement_id, "period_start": head.get("period_start"), "period_end": head.get("period_end"),
        "deposit_date": deposit, "currency": head.get("currency"), "reported_total": reported, "computed_total": computed,
        "balanced": balanced, "line_count": lines.height, "bad_rows": bad.height,
        "report_id": document.report_id, "source_file": None if document.report_id else document.source,
    }], schema_overrides={"reported_total": pl.Decimal(18, 4), "computed_total": pl.Decimal(18, 4),
                          "period_start": pl.Datetime("us", "UTC"), "period_end": pl.Datetime("us", "UTC"),
                          "deposit_date": pl.Datetime("us", "UTC")})
    with warehouse.write() as con:
        recon.record_settlement(warehouse, con, row, lines.with_columns(source_file=pl.lit(document.source)),
                                result.invoices.with_columns(last_settlement_id=pl.lit(settlement_id)), exceptions)
    return Applied(settlement_id, "applied", row.row(0, named=True), result, exceptions)


def _bad_row_exceptions(bad: pl.DataFrame) -> pl.DataFrame:
    return bad.select(kind=pl.lit("unparseable_row"), key=pl.format("{}:line {}", pl.col("settlement_id").fill_null("?"), "line_no"),
                      settlement_id="settlement_id", order_id="order_id", amount=pl.lit(None), reason="reason",
                      raw="raw").cast(EXCEPTION_SCHEMA)


def _balance_exception(settlement_id: str, reported: Decimal | None, computed: Decimal | None, balanced: bool,
                       has_summary: bool) -> pl.DataFrame:
    if balanced:
        return pl.DataFrame(schema=EXCEPTION_SCHEMA)
    reason = (f"the lines add up to {computed}, the summary says {reported}" if has_summary
              else "the file has no readable summary row: the deposit total cannot be checked")
    difference = computed - reported if has_summary and computed is not None and reported is not None else None
    return pl.DataFrame([{"kind": "unbalanced", "key": settlement_id, "settlement_id": settlement_id, "order_id": None,
                          "amount": difference, "reason": reason, "raw": None}], schema=EXCEPTION_SCHEMA)


@task(cache_policy=NO_CACHE)
def apply_terms(om: OmDatabase, warehouse: Warehouse, as_of: date) -> pl.DataFrame:
    """Mark unpaid invoices past their due date overdue, and refresh the open receivables."""
    unpaid = open_invoices(om)
    overdue = find_overdue(unpaid, as_of)
    if overdue.height:
        mark_overdue(om, overdue)
    current = unpaid.update(overdue.select("invoice_id", "payment_status"), on="invoice_id").join(
        overdue.select("invoice_id", "reason"), on="invoice_id", how="left")
    with warehouse.write() as con:
        recon.record_invoices(con, current.select(
            "invoice_id", "invoice_no", "order_id", "sales_order_id", "invoice_date", "due_date", "currency", "payment_status", "reason",
            expected="amount", settled=pl.lit(None, pl.Decimal(18, 4)), fees=pl.lit(None, pl.Decimal(18, 4)),
            difference=pl.lit(None, pl.Decimal(18, 4)), paid_at=pl.lit(None, pl.Datetime("us", "UTC")),
            last_settlement_id=pl.lit(None, pl.String)))
    return overdue


def describe(applied: Applied, overdue: int) -> list[str]:
    """A settlement's markdown section for the run summary: no buyer data, only ids and money."""
    s = applied.settlement
    if applied.outcome != "applied":
        return [f"## Settlement {applied.settlement_id}", "", f"Already applied ({s.get('source')}); skipped.", ""]
    invoices = applied.reconciliation.invoices
    by_status = dict(invoices.group_by("payment_status").len().iter_rows()) if invoices.height else {}
    kinds = applied.exceptions.group_by("kind").len().sort("kind").iter_rows() if applied.exceptions.height else []
    return [
        f"## Settlement {applied.settlement_id}", "",
        "| | |", "|---|---|",
        f"| period | {s['period_start'] or '?'} → {s['period_end'] or '?'} |",
        f"| deposit | {s['deposit_date'] or '?'} |",
        f"| reported total | {money_text(s['reported_total'], s['currency'])} |",
        f"| computed total | {money_text(s['computed_total'], s['currency'], missing=money_text(0, s['currency']))} |",
        f"| balanced | {'yes' if s['balanced'] else '**no**'} |",
        f"| lines | {s['line_count']:,} ({s['bad_rows']:,} unreadable) |",
        f"| invoices paid | {by_status.get('paid', 0):,} |",
        f"| invoices disputed | {by_status.get('disputed', 0):,} |",
        f"| invoices overdue (all, by Terms) | {overdue:,} |",
        *[f"| exceptions: {kind} | {n:,} |" for kind, n in kinds], "",
    ]


@flow(name="settlement")
def settlement(files: list[str] | None = None, overlap_days: float = 3.0, as_of: date | None = None) -> dict[str, int]:
    """Settlement reports (from Amazon, or `files` downloaded from Seller Central) → OM invoice
    payments, each settlement applied once ever; then Terms: unpaid invoices past due → overdue."""
    settings = Settings.from_env()
    warehouse, om = Warehouse(settings.warehouse), OmDatabase(settings.om_url)
    as_of = as_of or datetime.now(timezone.utc).date()
    with recorded_run("settlement", warehouse) as run:
        run.problems_query = "SELECT * FROM recon.exceptions ORDER BY created_at DESC"
        with warehouse.read_latest() as con:
            applied_before = recon.applied_settlements(con)
            mark, seen = ops.read_watermark(con, "settlement", WATERMARK), recon.read_reports(con)
        newest = None
        if files:
            documents = read_files(files)
        else:
            with AmazonConnector(settings) as amazon:
                documents, newest = fetch_reports(amazon, mark, seen, overlap_days)
        results: list[Applied] = []
        progress = create_progress_artifact(0.0, description="settlement reports reconciled") if documents else None
        for done, document in enumerate(documents, start=1):
            try:
                parsed = parse_settlement_report(document.text)
            except ReportFormatError as exc:
                if document.report_id is None:
                    raise UserError(f"{document.source}: {exc}") from None
                run.add_problems("unreadable report", pl.DataFrame({"key": [document.report_id], "raw_value": [""], "reason": [str(exc)]}))
                continue
            ids = settlements_in(parsed)
            for settlement_id in ids:
                if settlement_id in applied_before:
                    results.append(Applied(settlement_id, "already applied", {"source": applied_before[settlement_id] or "earlier"}))
                    continue
                results.append(apply_settlement(om, warehouse, document, parsed, settlement_id))
                applied_before[settlement_id] = document.source
            if document.report_id:
                with warehouse.write() as con:
                    recon.record_report(con, document.report_id, document.created_time, ids, "read")
            if progress:
                update_progress_artifact(progress, 100.0 * done / len(documents))
                get_run_logger().info("settlement reports reconciled: %d of %d", done, len(documents))
        overdue = apply_terms(om, warehouse, as_of)
        if newest:
            with warehouse.write() as con:
                ops.save_watermark(con, "settlement", WATERMARK, newest)

        done = [r for r in results if r.outcome == "applied"]
        statuses = pl.concat([r.reconciliation.invoices.select("payment_status") for r in done]) if done else pl.DataFrame(schema={"payment_status": pl.String})
        counts = dict(statuses.group_by("payment_status").len().iter_rows())
        exceptions = pl.concat([r.exceptions for r in done]) if done else pl.DataFrame(schema=EXCEPTION_SCHEMA)
        run.count_in = sum(r.settlement["line_count"] for r in done)
        run.count_out = counts.get("paid", 0) + counts.get("disputed", 0)
        run.counts = {"reports read": len(documents), "settlements applied": len(done),
                      "settlements already applied": len(results) - len(done), "lines": run.count_in,
                      "unbalanced settlements": sum(1 for r in done if not r.settlement["balanced"]),
                      "invoices paid": counts.get("paid", 0), "invoices disputed": counts.get("disputed", 0),
                      "invoices now overdue": overdue.height, "exceptions": exceptions.height}
        run.sections = [line for r in results for line in describe(r, overdue.height)]
        run.problems.append(exceptions.select("kind", "key", "reason", value=pl.coalesce(pl.col("amount").cast(pl.String), "raw")).cast(PROBLEM_SCHEMA))
        return run.counts
