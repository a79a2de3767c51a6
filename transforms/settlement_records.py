"""What one settlement of a report becomes: which settlements a file holds, which orders can be
settled, the settlement's record row and its exceptions for a person. Pure Polars, no I/O."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from omsync.core.schemas import INVOICE_SCHEMA
from omsync.transforms.settlement import EXCEPTION_SCHEMA
from omsync.transforms.settlement_report import MONEY, ParsedReport

SETTLEMENT_ROW_SCHEMA = {"reported_total": MONEY, "computed_total": MONEY, "period_start": pl.Datetime("us", "UTC"),
                         "period_end": pl.Datetime("us", "UTC"), "deposit_date": pl.Datetime("us", "UTC"), "marketplace_id": pl.String}


def settlements_in(parsed: ParsedReport) -> list[str]:
    """Every settlement id the file mentions, in order of appearance."""
    ids = pl.concat([parsed.summaries.select("settlement_id"), parsed.lines.select("settlement_id"),
                     parsed.bad_rows.select("settlement_id").drop_nulls()])
    return ids.unique(maintain_order=True)["settlement_id"].to_list()


def split_incomplete(settled: pl.DataFrame, bad: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(settleable, incomplete): an order with a row that did not parse is not settled until the file is fixed."""
    incomplete = settled.join(bad.select("order_id").drop_nulls().unique(), on="order_id")
    return settled.join(incomplete.select("order_id"), on="order_id", how="anti"), incomplete


def settlement_row(settlement_id: str, head: dict, computed: Decimal, balanced: bool, line_count: int, bad_rows: int,
                   report_id: str | None, source: str, marketplace_id: str | None = None) -> pl.DataFrame:
    """recon.settlements' row of one settlement: its summary, what its lines add up to, and where it came from
    (a report id from Amazon, or the file a user imported)."""
    return pl.DataFrame([{
        "settlement_id": settlement_id, "period_start": head.get("period_start"), "period_end": head.get("period_end"),
        "deposit_date": head.get("deposit_date"), "currency": head.get("currency"), "reported_total": head.get("reported_total"),
        "computed_total": computed, "balanced": balanced, "line_count": line_count, "bad_rows": bad_rows,
        "report_id": report_id, "source_file": None if report_id else source, "marketplace_id": marketplace_id,
    }], schema_overrides=SETTLEMENT_ROW_SCHEMA)


def settlement_exceptions(settlement_id: str, reported: Decimal | None, computed: Decimal | None, balanced: bool,
                          has_summary: bool, bad: pl.DataFrame, incomplete: pl.DataFrame) -> pl.DataFrame:
    """For a person: every row that did not parse, every order left unsettled because of one, and a
    settlement whose lines do not add up to its summary (or that has no readable summary)."""
    bad_rows = bad.select(kind=pl.lit("unparseable_row"), key=pl.format("{}:line {}", pl.col("settlement_id").fill_null("?"), "line_no"),
                          settlement_id="settlement_id", order_id="order_id", amount=pl.lit(None), reason="reason", raw="raw")
    orders = incomplete.select(kind=pl.lit("incomplete_order"), key=pl.concat_str("settlement_id", "order_id", separator=":"),
                               settlement_id="settlement_id", order_id="order_id", amount="settled",
                               reason=pl.lit("a row of this order did not parse: fix the file and import it again"), raw=pl.lit(None, pl.String))
    return pl.concat([bad_rows.cast(EXCEPTION_SCHEMA), orders.cast(EXCEPTION_SCHEMA),
                      _balance_exception(settlement_id, reported, computed, balanced, has_summary)])


def _balance_exception(settlement_id: str, reported: Decimal | None, computed: Decimal | None, balanced: bool,
                       has_summary: bool) -> pl.DataFrame:
    if balanced:
        return pl.DataFrame(schema=EXCEPTION_SCHEMA)
    reason = (f"the lines add up to {computed}, the summary says {reported}" if has_summary
              else "the file has no readable summary row: the deposit total cannot be checked")
    difference = computed - reported if has_summary and computed is not None and reported is not None else None
    return pl.DataFrame([{"kind": "unbalanced", "key": settlement_id, "settlement_id": settlement_id, "order_id": None,
                          "amount": difference, "reason": reason, "raw": None}], schema=EXCEPTION_SCHEMA)


def open_receivables(unpaid: pl.DataFrame, overdue: pl.DataFrame) -> pl.DataFrame:
    """recon.invoices' rows of every invoice not paid yet, the overdue ones marked so with why; what
    settlements paid on them is left as recorded."""
    current = unpaid.update(overdue.select("invoice_id", "payment_status"), on="invoice_id").join(
        overdue.select("invoice_id", "reason"), on="invoice_id", how="left")
    return current.select(
        "invoice_id", "invoice_no", "order_id", "sales_order_id", "invoice_date", "due_date", "currency", "payment_status", "reason",
        expected="amount", settled=pl.lit(None, MONEY), fees=pl.lit(None, MONEY), difference=pl.lit(None, MONEY),
        paid_at=pl.lit(None, pl.Datetime("us", "UTC")), last_settlement_id=pl.lit(None, pl.String))


def applicable_terms(invoices: pl.DataFrame, terms: pl.DataFrame) -> pl.DataFrame:
    """An invoice is judged under its own Terms, else its sales order's; its tolerance is theirs (none
    when neither names Terms the OM has). invoices: invoice_terms, order_terms; terms: terms_code, tolerance."""
    return (invoices.with_columns(terms_code=pl.coalesce("invoice_terms", "order_terms"))
            .join(terms.select("terms_code", pl.col("tolerance").cast(MONEY)), on="terms_code", how="left")
            .select(*INVOICE_SCHEMA))


def accumulated_fees(invoices: pl.DataFrame, recorded: pl.DataFrame) -> pl.DataFrame:
    """An invoice's fees add up over the settlements that paid it; the same settlement applied again
    replaces its own part, and a row from no settlement (the Terms' refresh) keeps what was recorded.
    invoices: invoice_id, fees, last_settlement_id; recorded: the same columns as recon.invoices holds them."""
    before = recorded.select("invoice_id", fees_before="fees", settlement_before="last_settlement_id")
    return invoices.join(before, on="invoice_id", how="left").with_columns(
        fees=pl.when(pl.col("last_settlement_id").is_null()).then("fees_before")
        .when(pl.col("settlement_before") == pl.col("last_settlement_id")).then("fees")
        .otherwise(pl.col("fees_before").fill_null(0) + pl.col("fees")).cast(MONEY),
    ).drop("fees_before", "settlement_before")
