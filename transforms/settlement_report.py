"""Amazon's V2 settlement flat file, parsed by header name into typed Polars frames.

Amazon documents 23 columns; files in the wild carry a 24th (`promotion-id`) and sometimes more,
so columns are found by name and unknown ones are kept. Money is written in the marketplace's
format (`1,234.56`, `1.234,56`, `95,00`); dates come in several forms. A row that does not parse
is set aside with its raw text and the reason, and the rest go on.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass

import polars as pl

from omsync.core.errors import UserError

MONEY = pl.Decimal(18, 4)
COLUMNS = {
    "settlement-id": "settlement_id", "settlement-start-date": "period_start", "settlement-end-date": "period_end",
    "deposit-date": "deposit_date", "total-amount": "total_amount", "currency": "currency",
    "transaction-type": "transaction_type", "order-id": "order_id", "merchant-order-id": "merchant_order_id",
    "adjustment-id": "adjustment_id", "shipment-id": "shipment_id", "marketplace-name": "marketplace_name",
    "amount-type": "amount_type", "amount-description": "amount_description", "amount": "amount",
    "fulfillment-id": "fulfillment_id", "posted-date": "posted_date", "posted-date-time": "posted_date_time",
    "order-item-code": "order_item_code", "merchant-order-item-id": "merchant_order_item_id",
    "merchant-adjustment-item-id": "merchant_adjustment_item_id", "sku": "sku", "quantity-purchased": "quantity",
    "promotion-id": "promotion_id",
}
REQUIRED = ("settlement-id", "total-amount", "currency", "transaction-type", "order-id", "amount-type", "amount-description", "amount")
TEXT_COLUMNS = [c for c in COLUMNS.values() if c not in ("total_amount", "amount", "quantity", "posted_date", "posted_date_time",
                                                          "period_start", "period_end", "deposit_date")]
SUMMARY_SCHEMA = {"settlement_id": pl.String, "period_start": pl.Datetime("us", "UTC"), "period_end": pl.Datetime("us", "UTC"),
                  "deposit_date": pl.Datetime("us", "UTC"), "currency": pl.String, "reported_total": MONEY}
LINE_SCHEMA = {"settlement_id": pl.String, "line_no": pl.Int32, **{c: pl.String for c in TEXT_COLUMNS if c not in ("settlement_id", "currency")},
               "amount": MONEY, "posted_at": pl.Datetime("us", "UTC"), "quantity": pl.Int32, "extra": pl.String}
BAD_ROW_SCHEMA = {"settlement_id": pl.String, "order_id": pl.String, "line_no": pl.Int32, "raw": pl.String, "reason": pl.String}

# One decimal mark per value: the last separator followed by one or two digits. Both forms are
# unambiguous because Amazon writes cents (or none, for yen), never three decimals.
DOT_DECIMAL = r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?$"
COMMA_DECIMAL = r"^[-+]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d{1,2})?$"


class ReportFormatError(UserError):
    """The file is not a V2 settlement report at all (no usable header)."""


@dataclass(frozen=True)
class ParsedReport:
    summaries: pl.DataFrame  # one row per settlement in the file
    lines: pl.DataFrame  # every detail row that parsed, typed
    bad_rows: pl.DataFrame  # every row that did not, with its raw text and why


def decode_report(content: bytes, charset: str | None) -> str:
    """Text of a report as Amazon sent it or a user saved it: gunzipped when needed, in the declared
    charset, else UTF-8, else Windows-1252 (what Seller Central's European downloads use)."""
    if content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except (EOFError, gzip.BadGzipFile, zlib.error):
            raise ReportFormatError("the gzip file is truncated or damaged: download it again") from None
    if charset:
        try:
            return content.decode(charset)
        except LookupError:
            pass
        except UnicodeDecodeError:
            return content.decode(charset, errors="replace")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def parse_amount(text: pl.Expr) -> pl.Expr:
    """Money in either marketplace format (`1,234.56`, `1.234,56`, `95,00`), exact; null if it is not money."""
    value = text.str.strip_chars()
    return (
        pl.when(value.str.contains(DOT_DECIMAL)).then(value.str.replace_all(",", "", literal=True))
        .when(value.str.contains(COMMA_DECIMAL)).then(value.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .cast(MONEY, strict=False)
    )


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """A moment in any form Amazon writes one: ISO with offset, `YYYY-MM-DD HH:MM:SS UTC`, `DD.MM.YYYY HH:MM:SS UTC`."""
    value = text.str.strip_chars()
    iso = value.str.replace(r"Z$", "+00:00")
    return pl.coalesce(
        iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%z", time_zone="UTC", strict=False),
        iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", time_zone="UTC", strict=False),
        value.str.to_datetime("%Y-%m-%d %H:%M:%S UTC", strict=False).dt.replace_time_zone("UTC"),
        value.str.to_datetime("%d.%m.%Y %H:%M:%S UTC", strict=False).dt.replace_time_zone("UTC"),
        value.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False).dt.replace_time_zone("UTC"),
    )


def parse_day(text: pl.Expr) -> pl.Expr:
    """A posting day as a UTC midnight: `MM/DD/YY` (Amazon's stated form), `DD.MM.YYYY`, `DD.MM.YY`, ISO, `DD/MM/YY`."""
    value = text.str.strip_chars()
    return pl.coalesce(
        value.str.to_date("%m/%d/%y", strict=False),
        value.str.to_date("%d.%m.%Y", strict=False),
        value.str.to_date("%d.%m.%y", strict=False),
        value.str.to_date("%Y-%m-%d", strict=False),
        value.str.to_date("%d/%m/%y", strict=False),  # European marketplaces; only used without posted-date-time
    ).cast(pl.Datetime("us", "UTC"))


def _header(text: str) -> tuple[list[str], int]:
    """The header's column names (lower-cased, trimmed) and its 1-based line number."""
    start, number = 0, 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line, start, number = text[start:end], end + 1, number + 1
        if line.strip():
            names = [name.strip().lower() for name in line.split("\t")]
            missing = [name for name in REQUIRED if name not in names]
            if missing:
                raise ReportFormatError(f"not a V2 settlement report: the header has no {', '.join(missing)} column")
            return names, number
    raise ReportFormatError("the settlement report is empty")


def _field(names: list[str], name: str) -> pl.Expr:
    """One column of the split row by header name; null when the column is absent or the cell is blank."""
    if name not in names:
        return pl.lit(None, pl.String)
    cell = pl.col("fields").list.get(names.index(name), null_on_oob=True).str.strip_chars()
    return pl.when(cell != "").then(cell)


def _first_problem(checks: list[tuple[pl.Expr, pl.Expr | str]]) -> pl.Expr:
    """The reason of the first failing check, or null when the row is fine."""
    chain = None
    for failed, reason in checks:
        reason = pl.lit(reason) if isinstance(reason, str) else reason
        chain = pl.when(failed).then(reason) if chain is None else chain.when(failed).then(reason)
    return chain.otherwise(pl.lit(None, pl.String))


def parse_settlement_report(text: str) -> ParsedReport:
    """Summary rows, typed detail rows and unparseable rows of one report file."""
    names, header_line = _header(text)
    extras = [name for name in names if name not in COLUMNS and name]
    rows = (
        pl.DataFrame({"raw": [text]}).lazy()
        .select(pl.col("raw").str.split("\n")).explode("raw")
        .with_row_index("line_no", offset=1)
        .with_columns(pl.col("line_no").cast(pl.Int32), raw=pl.col("raw").str.strip_suffix("\r"))
        .filter((pl.col("line_no") > header_line) & (pl.col("raw").str.strip_chars() != ""))
        .with_columns(fields=pl.col("raw").str.split("\t"))
        .with_columns(field_count=pl.col("fields").list.len(),
                      **{COLUMNS[name]: _field(names, name) for name in COLUMNS}, **{name: _field(names, name) for name in extras})
        .with_columns(is_summary=pl.col("total_amount").is_not_null() & pl.col("amount_type").is_null() & pl.col("amount").is_null())
        .drop("fields")
        .collect()
    )
    too_long = pl.col("field_count") > len(names)
    too_long_reason = pl.format("the row has {} fields, the header {}", "field_count", pl.lit(len(names)))
    summaries = rows.filter(pl.col("is_summary")).with_columns(
        reported_total=parse_amount(pl.col("total_amount")),
        start_at=parse_timestamp(pl.col("period_start")), end_at=parse_timestamp(pl.col("period_end")),
        deposit_at=parse_timestamp(pl.col("deposit_date")),
    ).with_columns(reason=_first_problem([
        (too_long, too_long_reason),
        (pl.col("settlement_id").is_null(), "the summary row has no settlement-id"),
        (pl.col("reported_total").is_null(), pl.format("total-amount '{}' is not an amount", pl.col("total_amount").fill_null(""))),
        (pl.col("deposit_at").is_null(), pl.format("deposit-date '{}' is not a date", pl.col("deposit_date").fill_null(""))),
    ]))
    details = rows.filter(~pl.col("is_summary")).with_columns(
        amount_value=parse_amount(pl.col("amount")),
        posted_moment=parse_timestamp(pl.col("posted_date_time")),
        posted_day=parse_day(pl.col("posted_date")),
        quantity_value=pl.col("quantity").cast(pl.Int32, strict=False),
    ).with_columns(posted_at=pl.coalesce("posted_moment", "posted_day"), reason=_first_problem([
        (too_long, too_long_reason),
        (pl.col("settlement_id").is_null(), "the row has no settlement-id"),
        (pl.col("amount").is_null(), "the row has no amount"),
        (pl.col("amount_value").is_null(), pl.format("amount '{}' is not an amount", "amount")),
        (pl.col("amount_type").is_null(), "the row has no amount-type"),
        (pl.col("posted_date_time").is_not_null() & pl.col("posted_moment").is_null(),
         pl.format("posted-date-time '{}' is not a date", "posted_date_time")),
        (pl.col("posted_date").is_not_null() & pl.col("posted_moment").is_null() & pl.col("posted_day").is_null(),
         pl.format("posted-date '{}' is not a date", "posted_date")),
        (pl.col("quantity").is_not_null() & pl.col("quantity_value").is_null(),
         pl.format("quantity-purchased '{}' is not a whole number", "quantity")),
    ]))
    extra = pl.struct(extras).struct.json_encode() if extras else pl.lit(None, pl.String)
    lines = details.filter(pl.col("reason").is_null()).select(
        *[pl.col(c) for c in LINE_SCHEMA if c not in ("amount", "posted_at", "quantity", "extra")],
        amount="amount_value", posted_at="posted_at", quantity="quantity_value", extra=extra,
    ).cast(LINE_SCHEMA)
    good_summaries = summaries.filter(pl.col("reason").is_null()).select(
        "settlement_id", "currency", "reported_total", period_start="start_at", period_end="end_at", deposit_date="deposit_at",
    ).select(*SUMMARY_SCHEMA).cast(SUMMARY_SCHEMA)
    bad = pl.concat([summaries.filter(pl.col("reason").is_not_null()).select(*BAD_ROW_SCHEMA), details.filter(pl.col("reason").is_not_null()).select(*BAD_ROW_SCHEMA)])
    return ParsedReport(good_summaries, lines, bad.cast(BAD_ROW_SCHEMA).sort("line_no"))
