"""The V2 settlement file parser: US and DE forms, 23/24/more columns, summary row, broken rows."""

import gzip
from datetime import datetime, timezone
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsync.transforms.settlement_report import ReportFormatError, decode_report, parse_settlement_report

COLUMNS = ["settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
           "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
           "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date", "posted-date-time",
           "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased", "promotion-id"]


def row(columns: list[str], **cells: str) -> str:
    return "\t".join(cells.get(c.replace("-", "_"), "") for c in columns)


def report(columns: list[str], summary: dict, details: list[dict], newline: str = "\n") -> str:
    return newline.join(["\t".join(columns), row(columns, **summary)] + [row(columns, **d) for d in details]) + newline


US_SUMMARY = dict(settlement_id="12345678901", settlement_start_date="2025-06-01 00:00:00 UTC",
                  settlement_end_date="2025-06-15 00:00:00 UTC", deposit_date="2025-06-17 00:00:00 UTC", total_amount="1,231.68", currency="USD")


def us_line(amount: str, amount_type="ItemPrice", description="Principal", order_id="111-1234567-1234567", **extra) -> dict:
    return dict(settlement_id="12345678901", transaction_type="Order", order_id=order_id, amount_type=amount_type,
                amount_description=description, amount=amount, posted_date="06/09/25", posted_date_time="2025-06-09 05:23:19 UTC",
                sku="SKU-001", quantity_purchased="2", **extra)


def test_us_file_with_24_columns_parses_by_name_with_the_summary_first():
    text = report(COLUMNS, US_SUMMARY, [us_line("1,239.98"), us_line("3.20", description="Tax"), us_line("-6.00", "ItemFees", "Commission"),
                                        dict(settlement_id="12345678901", transaction_type="other-transaction", amount_type="other-transaction",
                                             amount_description="Subscription Fee", amount="-5.50", posted_date="06/10/25")])
    parsed = parse_settlement_report(text)
    summary = parsed.summaries.row(0, named=True)
    assert summary["reported_total"] == Decimal("1231.68") and summary["currency"] == "USD"
    assert summary["deposit_date"] == datetime(2025, 6, 17, tzinfo=timezone.utc)
    assert parsed.lines["amount"].to_list() == [Decimal("1239.98"), Decimal("3.2"), Decimal("-6"), Decimal("-5.5")]
    assert parsed.lines["amount"].sum() == summary["reported_total"]
    assert parsed.lines["line_no"].to_list() == [3, 4, 5, 6], "line numbers of the file, for a person to find the row"
    assert parsed.lines["posted_at"][0] == datetime(2025, 6, 9, 5, 23, 19, tzinfo=timezone.utc)
    assert parsed.lines["posted_at"][3] == datetime(2025, 6, 10, tzinfo=timezone.utc), "MM/DD/YY when there is no posted-date-time"
    assert parsed.lines["quantity"][0] == 2 and parsed.lines["quantity"][3] is None
    assert parsed.bad_rows.is_empty()


def test_de_file_in_iso_8859_1_with_decimal_commas_and_german_dates():
    summary = dict(US_SUMMARY, settlement_start_date="01.06.2025 00:00:00 UTC", settlement_end_date="15.06.2025 00:00:00 UTC",
                   deposit_date="17.06.2025 10:30:00 UTC", total_amount="1.089,50", currency="EUR")
    lines = [dict(us_line("1.100,00"), posted_date="09.06.2025", posted_date_time="09.06.2025 05:23:19 UTC", sku="MÜSLI-Größe"),
             dict(us_line("95,00 "), description="Shipping", posted_date="09.06.2025", posted_date_time="09.06.2025 05:23:19 UTC"),
             dict(us_line("-105,5", "ItemFees", "Commission"), posted_date="09.06.2025", posted_date_time="")]
    content = report(COLUMNS, summary, lines, newline="\r\n").encode("iso-8859-1")
    parsed = parse_settlement_report(decode_report(gzip.compress(content), "ISO-8859-1"))
    assert parsed.summaries["reported_total"].to_list() == [Decimal("1089.5")]
    assert parsed.summaries["deposit_date"][0] == datetime(2025, 6, 17, 10, 30, tzinfo=timezone.utc)
    assert parsed.lines["amount"].to_list() == [Decimal("1100"), Decimal("95"), Decimal("-105.5")]
    assert parsed.lines["sku"][0] == "MÜSLI-Größe"
    assert parsed.lines["posted_at"][2] == datetime(2025, 6, 9, tzinfo=timezone.utc)


def test_23_columns_and_columns_amazon_adds_later_are_both_read_and_extras_kept():
    old = COLUMNS[:23]
    parsed = parse_settlement_report(report(old, US_SUMMARY, [us_line("10.00")]))
    assert parsed.lines["amount"].to_list() == [Decimal("10")] and parsed.lines["promotion_id"][0] is None
    newer = [*COLUMNS[:5], "marketplace-id", *COLUMNS[5:]]
    parsed = parse_settlement_report(report(newer, US_SUMMARY, [us_line("10.00", marketplace_id="ATVPDKIKX0DER")]))
    assert parsed.lines["amount"].to_list() == [Decimal("10")] and parsed.summaries["currency"][0] == "USD"
    assert parsed.lines["extra"][0] == '{"marketplace-id":"ATVPDKIKX0DER"}'


def test_columns_are_found_by_name_in_any_order():
    shuffled = list(reversed(COLUMNS))
    parsed = parse_settlement_report(report(shuffled, US_SUMMARY, [us_line("7.25")]))
    assert parsed.lines.select("order_id", "amount").row(0) == ("111-1234567-1234567", Decimal("7.25"))


def test_iso_dates_with_an_offset_are_read_as_utc():
    summary = dict(US_SUMMARY, deposit_date="2003-10-03T16:00:00-07:00", settlement_start_date="2003-09-19T16:00:00Z")
    parsed = parse_settlement_report(report(COLUMNS, summary, [dict(us_line("1.00"), posted_date_time="2003-10-01T08:00:00+02:00")]))
    assert parsed.summaries["deposit_date"][0] == datetime(2003, 10, 3, 23, tzinfo=timezone.utc)
    assert parsed.summaries["period_start"][0] == datetime(2003, 9, 19, 16, tzinfo=timezone.utc)
    assert parsed.lines["posted_at"][0] == datetime(2003, 10, 1, 6, tzinfo=timezone.utc)


def test_broken_rows_are_set_aside_with_their_text_and_reason_and_the_rest_go_on():
    good = us_line("10.00")
    text = report(COLUMNS, US_SUMMARY, [good, us_line("ten"), dict(us_line("1.00"), posted_date_time="yesterday"),
                                        dict(us_line("2.00"), quantity_purchased="two"), dict(us_line("3.00"), settlement_id="")])
    text = text + "\n   \n" + row(COLUMNS, **good) + "\textra\tcells\n" + "12345678901\ttruncated\n"
    parsed = parse_settlement_report(text)
    assert parsed.lines["amount"].to_list() == [Decimal("10")]
    reasons = dict(parsed.bad_rows.select("line_no", "reason").iter_rows())
    assert reasons == {4: "amount 'ten' is not an amount", 5: "posted-date-time 'yesterday' is not a date",
                       6: "quantity-purchased 'two' is not a whole number", 7: "the row has no settlement-id",
                       10: "the row has 26 fields, the header 24", 11: "the row has no amount"}
    assert parsed.bad_rows.filter(pl.col("line_no") == 4)["raw"][0] == row(COLUMNS, **us_line("ten"))
    assert parsed.bad_rows.filter(pl.col("line_no") == 4)["order_id"][0] == "111-1234567-1234567"


def test_an_unreadable_summary_is_reported_and_its_lines_still_parse():
    parsed = parse_settlement_report(report(COLUMNS, dict(US_SUMMARY, total_amount="n/a"), [us_line("1.00")]))
    assert parsed.summaries.is_empty() and parsed.lines.height == 1
    assert parsed.bad_rows["reason"].to_list() == ["total-amount 'n/a' is not an amount"]


def test_a_file_that_is_not_a_settlement_report_is_refused_with_what_is_missing():
    with pytest.raises(ReportFormatError, match="no amount-type, amount-description, amount column"):
        parse_settlement_report("settlement-id\ttotal-amount\tcurrency\ttransaction-type\torder-id\n1\t2\tUSD\t\t\n")
    with pytest.raises(ReportFormatError, match="empty"):
        parse_settlement_report("\n\n")


def test_decode_falls_back_to_windows_1252_for_files_saved_without_a_charset():
    assert decode_report("Größe\n".encode("cp1252"), None) == "Größe\n"
    assert decode_report("\ufeffsettlement-id\n".encode("utf-8"), None) == "settlement-id\n"


def write_amount(amount: Decimal, german: bool, grouped: bool) -> str:
    text = f"{amount:,.2f}" if grouped else f"{amount:.2f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".") if german else text


@given(amounts=st.lists(st.decimals(min_value=-10**7, max_value=10**7, places=2), min_size=1, max_size=40),
       german=st.booleans(), grouped=st.booleans())
def test_parsed_amounts_are_exactly_the_written_ones(amounts, german, grouped):
    total = sum(amounts, Decimal(0))
    summary = dict(US_SUMMARY, total_amount=write_amount(total, german, grouped))
    parsed = parse_settlement_report(report(COLUMNS, summary, [us_line(write_amount(a, german, grouped)) for a in amounts]))
    assert parsed.bad_rows.is_empty()
    assert parsed.lines["amount"].to_list() == amounts
    assert parsed.lines["amount"].sum() == total == parsed.summaries["reported_total"][0]
