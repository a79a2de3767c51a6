"""settlement (Amazon → OM): each settlement report reconciled with the OM's invoices, applied once
ever; then the Terms mark what is overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from omsync.connectors import ops, recon
from omsync.connectors.amazon import AmazonConnector
from omsync.connectors.om import OmDatabase
from omsync.connectors.om_settlement import apply_payments, invoices_for_orders, mark_overdue, open_invoices, terms
from omsync.connectors.problem_queries import SETTLEMENT_EXCEPTIONS
from omsync.connectors.warehouse import Warehouse
from omsync.flows.resources import Resources, provided
from omsync.flows.runs import PROBLEM_SCHEMA, recorded_run
from omsync.transforms.settlement import (EXCEPTION_SCHEMA, Reconciliation, balance, changed_applied_lines, classify_lines, find_overdue,
                                   line_exceptions, reconcile_orders, settle_orders, supersedes)
from omsync.transforms.settlement_records import (accumulated_fees, applicable_terms, open_receivables, settlement_exceptions, settlement_row,
                                          settlements_in, split_incomplete)
from omsync.transforms.money import money_text
from omsync.transforms.settlement_report import ParsedReport, ReportFormatError, decode_report, parse_settlement_report

WATERMARK = "created_since"
RETENTION_DAYS = 90  # Amazon keeps settlement reports this long


@dataclass(frozen=True)
class Document:
    """One settlement report file, from Amazon or from disk, as text."""

    source: str
    text: str
    report_id: str | None = None
    created_time: str | None = None
    marketplace_id: str | None = None  # Amazon's report says it; a file from Seller Central does not


@dataclass
class Applied:
    settlement_id: str
    outcome: str  # applied | already applied
    settlement: dict
    reconciliation: Reconciliation | None = None
    exceptions: pl.DataFrame | None = None
    paid_now: pl.Series | None = None  # the invoices whose payment THIS run recorded (another run or an earlier try may have)


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
                                  report["reportId"], report.get("createdTime"), (report.get("marketplaceIds") or [None])[0]))
    newest = max((r["createdTime"] for r in reports), default=mark)
    return documents, newest


def delivery_balances(parsed: ParsedReport, settlement_id: str) -> bool:
    """Whether this file's lines of the settlement add up to its summary's total."""
    summary = parsed.summaries.filter(pl.col("settlement_id") == settlement_id).head(1)
    reported = summary["reported_total"].item() if summary.height else None
    return balance(reported, classify_lines(parsed.lines.filter(pl.col("settlement_id") == settlement_id)))[1]


def superseded_by(warehouse: Warehouse, document: Document, parsed: ParsedReport, settlement_id: str, applied: tuple[str, bool]) -> bool:
    """Whether this delivery of an applied settlement replaces it (docs/design.md: the rest of a truncated file);
    one that changes lines already applied is recorded as an exception and applies nothing."""
    if applied[1]:
        return False
    delivered = parsed.lines.filter(pl.col("settlement_id") == settlement_id)
    with warehouse.read_latest() as con:
        changed = changed_applied_lines(recon.applied_lines(con, settlement_id), delivered)
    if changed.height:
        with warehouse.write() as con:
            recon.record_exceptions(con, pl.DataFrame([{
                "kind": "changed_delivery", "key": f"{settlement_id}:{document.source}", "settlement_id": settlement_id, "order_id": None,
                "amount": None, "reason": f"this delivery changes or drops {changed.height} line(s) already applied: nothing applied, a person must decide",
                "raw": None}], schema=EXCEPTION_SCHEMA))
    return supersedes(applied[1], changed, delivery_balances(parsed, settlement_id))


def read_files(paths: list[str]) -> tuple[list[Document], pl.DataFrame]:
    """Report files a user downloaded from Seller Central (backfill), and the files that cannot be read, with why."""
    documents, unreadable = [], []
    for path in paths:
        try:
            documents.append(Document(str(Path(path).resolve()), decode_report(Path(path).read_bytes(), None)))
        except OSError as exc:
            unreadable.append({"key": path, "raw_value": "", "reason": f"cannot read settlement file: {exc.strerror}"})
        except ReportFormatError as exc:
            unreadable.append({"key": path, "raw_value": "", "reason": str(exc)})
    return documents, pl.DataFrame(unreadable, schema={"key": pl.String, "raw_value": pl.String, "reason": pl.String})


@task(cache_policy=NO_CACHE)
def apply_settlement(om: OmDatabase, warehouse: Warehouse, document: Document, parsed: ParsedReport, settlement_id: str) -> Applied:
    """Reconcile one settlement, commit its payments to the OM in one transaction, then record it
    in the warehouse. Rerun after a kill, it recomputes the same payments and the OM keeps one each."""
    summary = parsed.summaries.filter(pl.col("settlement_id") == settlement_id).head(1)
    lines = classify_lines(parsed.lines.filter(pl.col("settlement_id") == settlement_id))
    bad = parsed.bad_rows.filter(pl.col("settlement_id") == settlement_id)
    head = summary.row(0, named=True) if summary.height else {"settlement_id": settlement_id}
    deposit, reported = head.get("deposit_date"), head.get("reported_total")
    computed, balanced = balance(reported, lines)

    settled, incomplete = split_incomplete(settle_orders(lines), bad)
    invoices, known = invoices_for_orders(om, settled["order_id"], settlement_id)
    invoices = applicable_terms(invoices, terms(om))
    result = reconcile_orders(settled, invoices, known, settlement_id, deposit.date() if deposit else None)
    paid_now = apply_payments(om, result.payments, result.invoices)

    exceptions = pl.concat([result.exceptions, line_exceptions(lines),
                            settlement_exceptions(settlement_id, reported, computed, balanced, summary.height > 0, bad, incomplete)])
    row = settlement_row(settlement_id, head, computed, balanced, lines.height, bad.height, document.report_id, document.source,
                         document.marketplace_id)
    paid = result.invoices.with_columns(last_settlement_id=pl.lit(settlement_id))
    with warehouse.write() as con:
        paid = accumulated_fees(paid, recon.recorded_fees(con, paid["invoice_id"]))
        recon.record_settlement(warehouse, con, row, lines.with_columns(source_file=pl.lit(document.source)), paid, exceptions)
    return Applied(settlement_id, "applied", row.row(0, named=True), result, exceptions, paid_now)


@task(cache_policy=NO_CACHE)
def apply_terms(om: OmDatabase, warehouse: Warehouse, as_of: date) -> pl.DataFrame:
    """Mark unpaid invoices past their due date overdue, and refresh the open receivables."""
    unpaid = applicable_terms(open_invoices(om), terms(om))
    overdue = find_overdue(unpaid, as_of)
    if overdue.height:
        mark_overdue(om, overdue)
    receivables = open_receivables(unpaid, overdue)
    with warehouse.write() as con:
        recon.record_invoices(con, accumulated_fees(receivables, recon.recorded_fees(con, receivables["invoice_id"])))
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
def settlement(files: list[str] | None = None, overlap_days: float = 3.0, as_of: date | None = None,
               resources: Resources | None = None) -> dict[str, int]:
    """Settlement reports (from Amazon, or `files` downloaded from Seller Central) → OM invoice
    payments, each settlement applied once ever; then Terms: unpaid invoices past due → overdue."""
    as_of = as_of or datetime.now(timezone.utc).date()
    with provided(resources) as r, recorded_run("settlement", r.warehouse) as run:
        warehouse, om = r.warehouse, r.om
        run.problems_query = SETTLEMENT_EXCEPTIONS
        with warehouse.read_latest() as con:
            applied_before = recon.applied_settlements(con)
            mark, seen = ops.read_watermark(con, "settlement", WATERMARK, r.settings.marketplace_ids), recon.read_reports(con)
        newest = None
        unreadable = pl.DataFrame(schema={"key": pl.String, "raw_value": pl.String, "reason": pl.String})
        if files:
            documents, unreadable = read_files(files)
        else:
            documents, newest = fetch_reports(r.amazon, mark, seen, overlap_days)
        results: list[Applied] = []
        progress = create_progress_artifact(0.0, description="settlement reports reconciled") if documents else None
        for done, document in enumerate(documents, start=1):
            try:
                parsed = parse_settlement_report(document.text)
            except ReportFormatError as exc:
                unreadable = pl.concat([unreadable, pl.DataFrame({"key": [document.report_id or document.source], "raw_value": [""], "reason": [str(exc)]})])
                continue
            ids = settlements_in(parsed)
            for settlement_id in ids:
                if settlement_id in applied_before and not superseded_by(warehouse, document, parsed, settlement_id, applied_before[settlement_id]):
                    results.append(Applied(settlement_id, "already applied", {"source": applied_before[settlement_id][0] or "earlier"}))
                    continue
                results.append(apply_settlement(om, warehouse, document, parsed, settlement_id))
                applied_before[settlement_id] = (document.source, results[-1].settlement["balanced"])
            if document.report_id:
                with warehouse.write() as con:
                    recon.record_report(con, document.report_id, document.created_time, ids, "read")
            if progress:
                update_progress_artifact(progress, 100.0 * done / len(documents))
                get_run_logger().info("settlement reports reconciled: %d of %d", done, len(documents))
        overdue = apply_terms(om, warehouse, as_of)
        if newest:
            with warehouse.write() as con:
                ops.save_watermark(con, "settlement", WATERMARK, r.settings.marketplace_ids, newest)

        done = [r for r in results if r.outcome == "applied"]
        statuses = pl.concat([r.reconciliation.invoices.filter(pl.col("invoice_id").is_in(r.paid_now.implode())).select("payment_status")
                              for r in done]) if done else pl.DataFrame(schema={"payment_status": pl.String})
        counts = dict(statuses.group_by("payment_status").len().iter_rows())
        exceptions = pl.concat([r.exceptions for r in done]) if done else pl.DataFrame(schema=EXCEPTION_SCHEMA)
        run.count_in = sum(r.settlement["line_count"] for r in done)
        run.count_out = counts.get("paid", 0) + counts.get("disputed", 0)
        # one unreadable file never stops the others: each is a problem of the run, named with why
        run.add_problems("unreadable report", unreadable)
        run.counts = {"reports read": len(documents), "reports unreadable": unreadable.height,
                      "settlements applied": len(done),
                      "settlements already applied": len(results) - len(done), "lines": run.count_in,
                      "unbalanced settlements": sum(1 for r in done if not r.settlement["balanced"]),
                      "invoices paid": counts.get("paid", 0), "invoices disputed": counts.get("disputed", 0),
                      "invoices now overdue": overdue.height, "exceptions": exceptions.height}
        run.sections = [line for r in results for line in describe(r, overdue.height)]
        run.problems.append(exceptions.select("kind", "key", value=pl.coalesce(pl.col("amount").cast(pl.String), "raw"), reason="reason").cast(PROBLEM_SCHEMA))
        return run.counts
