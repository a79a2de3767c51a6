"""Amazon's settlement flat files, parsed by header name into typed Polars frames.

Two layouts, told apart by the header (never by the file name): V2 (`…_FLAT_FILE_V2`), one amount
per row; Amazon documents 23 columns, files in the wild carry a 24th (`promotion-id`) and sometimes
more, so columns are found by name and unknown ones are kept. V1 (`GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE`,
36 columns, removed by Amazon in 2026 but kept in merchants' archives) puts several type/amount pairs
side by side on one row per order item; each filled pair becomes one line as V2 would have written it. Money is written in the marketplace's
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
REQUIRED = ("settlement-id", "total-amount", "currency", "transaction-type", "order-id")
V2_REQUIRED = ("amount-type", "amount-description", "amount")
# V1's type/amount pairs and the V2 amount-type each became (Amazon: "the price/fee type-name columns
# became amount-type, the type values amount-description"); withheld taxes were item-related fees in V1.
V1_PAIRS = (
    ("price-type", "price-amount", "ItemPrice"),
    ("item-related-fee-type", "item-related-fee-amount", "ItemFees"),
    ("shipment-fee-type", "shipment-fee-amount", "ShipmentFees"),
    ("order-fee-type", "order-fee-amount", "OrderFees"),
    ("promotion-type", "promotion-amount", "Promotion"),
    ("direct-payment-type", "direct-payment-amount", "DirectPayment"),
)
V1_WITHHELD_PREFIX = "MarketplaceFacilitator"
V1_REQUIRED = ("price-type", "price-amount", "item-related-fee-type", "item-related-fee-amount", "other-amount")
V1_COLUMNS = [name for pair in V1_PAIRS for name in pair[:2]] + ["misc-fee-amount", "other-fee-amount", "other-fee-reason-description", "other-amount"]
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
    """The file is not a settlement report of a layout we read (no usable header)."""


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


def _header(text: str) -> tuple[list[str], int, str]:
    """The header's column names (lower-cased, trimmed), its 1-based line number and its layout (V1 or V2)."""
    start, number = 0, 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line, start, number = text[start:end], end + 1, number + 1
        if line.strip():
            names = [name.strip().lower() for name in line.split("\t")]
            def missing(layout_columns: tuple[str, ...]) -> str:
                return ", ".join(name for name in REQUIRED + layout_columns if name not in names)
            # amount-type is V2's own column and price-type V1's: the one present says which layout the rest must follow
            layout = "V2" if "amount-type" in names else "V1" if "price-type" in names else None
            if layout is None:
                raise ReportFormatError(f"not a settlement report of a known layout: the header has no {missing(V2_REQUIRED)} "
                                        f"column (V2) and no {missing(V1_REQUIRED)} column (V1)")
            if absent := missing(V2_REQUIRED if layout == "V2" else V1_REQUIRED):
                raise ReportFormatError(f"not a {layout} settlement report: the header has no {absent} column")
            return names, number, layout
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


def _v1_lines(rows: pl.LazyFrame) -> pl.LazyFrame:
    """V1 rows unpivoted: one line per filled type/amount pair, named as V2 names it, and each row's problem."""
    def cell(name: str) -> pl.Expr:
        return pl.col(f"v1:{name}")

    entries, checks = [], []
    for type_name, amount_name, amount_type in V1_PAIRS:
        kind, amount = cell(type_name), cell(amount_name)
        if amount_type == "ItemFees":  # V2 moved the marketplace-facilitator taxes out of the fees
            amount_type = pl.when(kind.str.starts_with(V1_WITHHELD_PREFIX)).then(pl.lit("ItemWithheldTax")).otherwise(pl.lit("ItemFees"))
        entries.append((kind.is_not_null() | amount.is_not_null(), amount_type, kind, amount, pl.col("transaction_type")))
        checks += [(kind.is_not_null() & amount.is_null(), pl.format(f"{type_name} '{{}}' has no {amount_name}", kind)),
                   (kind.is_null() & amount.is_not_null(), pl.format(f"{amount_name} '{{}}' has no {type_name}", amount))]
    account = pl.col("order_id").is_null()
    # other-amount carries V1's account lines, whose transaction-type was the fee's name ("Subscription Fee");
    # V2 writes them as other-transaction with that name as the description
    untyped = [("misc-fee-amount", "ItemFees", pl.lit("MiscFee"), pl.col("transaction_type")),
               ("other-fee-amount", "ItemFees", pl.coalesce(cell("other-fee-reason-description"), pl.lit("OtherFee")), pl.col("transaction_type")),
               ("other-amount", "other-transaction", pl.coalesce(cell("other-fee-reason-description"), pl.col("transaction_type")),
                pl.when(account).then(pl.lit("other-transaction")).otherwise(pl.col("transaction_type")))]
    for amount_name, amount_type, description, transaction in untyped:
        entries.append((cell(amount_name).is_not_null(), amount_type, description, cell(amount_name), transaction))
    for name in [pair[1] for pair in V1_PAIRS] + [entry[0] for entry in untyped]:
        checks.append((cell(name).is_not_null() & parse_amount(cell(name)).is_null(), pl.format(f"{name} '{{}}' is not an amount", cell(name))))
    structs = [pl.struct(filled=filled, amount_type=pl.lit(kind) if isinstance(kind, str) else kind, amount_description=description,
                         amount=amount, transaction_type=transaction)
               for filled, kind, description, amount, transaction in entries]
    return (
        rows.with_columns(layout_problem=_first_problem(checks),
                          entry=pl.concat_list(structs).list.eval(pl.element().filter(pl.element().struct.field("filled"))))
        .explode("entry", empty_as_null=True)  # a summary row, or a row with no amount at all (a bad row), stays once
        .with_columns(amount_type=pl.col("entry").struct.field("amount_type"), amount_description=pl.col("entry").struct.field("amount_description"),
                      amount=pl.col("entry").struct.field("amount"),
                      transaction_type=pl.coalesce(pl.col("entry").struct.field("transaction_type"), "transaction_type"),
                      # V1 has one posted-date, written with or without the time of day
                      posted_date_time=pl.when(cell("posted-date").str.contains(":")).then(cell("posted-date")),
                      posted_date=pl.when(~cell("posted-date").str.contains(":")).then(cell("posted-date")))
        .drop("entry", *[f"v1:{name}" for name in V1_COLUMNS + ["posted-date"]])
    )


def parse_settlement_report(text: str) -> ParsedReport:
    """Summary rows, typed detail rows and unparseable rows of one report file, V1 or V2."""
    names, header_line, layout = _header(text)
    v1_columns = V1_COLUMNS + ["posted-date"] if layout == "V1" else []
    extras = [name for name in names if name not in COLUMNS and name not in v1_columns and name]
    rows = (
        pl.DataFrame({"raw": [text]}).lazy()
        .select(pl.col("raw").str.split("\n")).explode("raw")
        .with_row_index("line_no", offset=1)
        .with_columns(pl.col("line_no").cast(pl.Int32), raw=pl.col("raw").str.strip_suffix("\r"))
        .filter((pl.col("line_no") > header_line) & (pl.col("raw").str.strip_chars() != ""))
        .with_columns(fields=pl.col("raw").str.split("\t"))
        .with_columns(field_count=pl.col("fields").list.len(), layout_problem=pl.lit(None, pl.String),
                      **{COLUMNS[name]: _field(names, name) for name in COLUMNS}, **{name: _field(names, name) for name in extras},
                      **{f"v1:{name}": _field(names, name) for name in v1_columns})
    )
    rows = (
        (_v1_lines(rows) if layout == "V1" else rows)
        .with_columns(is_summary=pl.col("total_amount").is_not_null() & pl.col("amount_type").is_null() & pl.col("amount").is_null())
        .drop("fields")
        .collect()
    )
    moment_name = "posted-date-time" if layout == "V2" else "posted-date"
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
        (pl.col("layout_problem").is_not_null(), pl.col("layout_problem")),
        (pl.col("settlement_id").is_null(), "the row has no settlement-id"),
        (pl.col("amount").is_null(), "the row has no amount"),
        (pl.col("amount_value").is_null(), pl.format("amount '{}' is not an amount", "amount")),
        (pl.col("amount_type").is_null(), "the row has no amount-type"),
        (pl.col("posted_date_time").is_not_null() & pl.col("posted_moment").is_null(),
         pl.format(f"{moment_name} '{{}}' is not a date", "posted_date_time")),
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
    # a V1 row's lines share its problems: the row is set aside once, whole
    return ParsedReport(good_summaries, lines, bad.cast(BAD_ROW_SCHEMA).unique("line_no", keep="first", maintain_order=True).sort("line_no"))
