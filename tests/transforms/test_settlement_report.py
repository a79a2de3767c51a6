"""The settlement file parser: V2 in US and DE forms, 23/24/more columns, summary row, broken rows;
the older V1 layout, told by its header, read into the same lines as V2."""

import gzip
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsync.sandbox import settlement_report as sandbox_report
from omsync.sandbox.marketplace import Marketplace
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


def sandbox_settlement(marketplace_id: str) -> tuple[sandbox_report.Settlement, Marketplace]:
    """One period of a sandbox marketplace: FBA and merchant orders, a refund, an A-to-z claim, the account's fees and reserve."""
    m = Marketplace(seed=3, marketplace_id=marketplace_id)
    m.add_listings([{"sku": f"P-{i}", "productType": "HOME", "quantity": 500, "price": "30.00"} for i in range(6)])
    m.place_orders(8, basket_sizes=[1, 3])
    m.place_orders(4, fulfilled_by="AMAZON")
    now = m.now()
    settlement = sandbox_report.Settlement("555", now - timedelta(days=14), now, now + timedelta(days=3), m.info.currency)
    orders = sorted(m.state.orders.values(), key=lambda o: o.number)
    for order in orders:
        settlement.lines += sandbox_report.order_lines(order, m.info, order.updated)
    settlement.lines += sandbox_report.refund_lines(orders[0], m.info, now, "Refund", "amzn1.adj.1")
    settlement.lines += sandbox_report.refund_lines(orders[1], m.info, now, "A-to-z Guarantee Refund", "amzn1.adj.2")
    settlement.lines += sandbox_report.account_lines(Decimal("300"), Decimal("7.00"), now, fba=True)[0]
    return settlement, m


LINE_KEY = ["settlement_id", "transaction_type", "order_id", "adjustment_id", "shipment_id", "marketplace_name", "fulfillment_id",
            "order_item_code", "sku", "quantity", "amount_type", "amount_description", "amount", "posted_at"]


@pytest.mark.parametrize("marketplace_id", ["ATVPDKIKX0DER", "A1PA6795UKMFR9"])
def test_a_v1_file_gives_the_same_summary_and_lines_as_the_v2_file_of_the_same_settlement(marketplace_id):
    settlement, m = sandbox_settlement(marketplace_id)
    v2 = parse_settlement_report(sandbox_report.render(settlement, m.info, 3))
    v1_text = sandbox_report.render_v1(settlement, m.info, 3)
    v1 = parse_settlement_report(decode_report(gzip.compress(v1_text.encode(m.info.charset)), m.info.charset))
    assert v1_text.splitlines()[0].count("\t") == 35, "36 columns"
    assert len(v1_text.splitlines()) - 2 < v1.lines.height, "several amounts side by side on a V1 row"
    assert v1.bad_rows.is_empty() and v2.bad_rows.is_empty()
    assert v1.summaries.equals(v2.summaries)
    assert v1.lines.select(LINE_KEY).sort(LINE_KEY).equals(v2.lines.select(LINE_KEY).sort(LINE_KEY))
    totals = [frame.group_by("transaction_type", "amount_type").agg(pl.col("amount").sum()).sort("transaction_type", "amount_type")
              for frame in (v1.lines, v2.lines)]
    assert totals[0].equals(totals[1]) and v1.lines["amount"].sum() == v1.summaries["reported_total"][0] == settlement.total
    assert {"ItemPrice", "ItemFees", "Promotion", "other-transaction"} <= set(v1.lines["amount_type"])


def v1_line(**cells: str) -> dict:
    return dict(settlement_id="12345678901", transaction_type="Order", order_id="302-1234567-1234567", posted_date="09.06.2025",
                sku="MÜSLI-Größe", quantity_purchased="2", order_item_code="00300000000001") | cells


V1_DE_SUMMARY = dict(settlement_id="12345678901", settlement_start_date="01.06.2025 00:00:00 UTC", settlement_end_date="2025-06-15T00:00:00+02:00",
                     deposit_date="17.06.2025 10:30:00 UTC", total_amount="980,36", currency="EUR")


def test_each_filled_v1_pair_is_one_line_in_v2_terms_in_german_form():
    rows = [v1_line(price_type="Principal", price_amount="1.100,00", item_related_fee_type="Commission", item_related_fee_amount="-165,00",
                    promotion_id="PROMO-1", promotion_type="Principal", promotion_amount="-10,00", posted_date="09.06.2025 05:23:19 UTC"),
            v1_line(price_type="Shipping", price_amount="95,00", shipment_fee_type="FBA transportation fee", shipment_fee_amount="-2,5",
                    order_fee_type="Gift wrap chargeback", order_fee_amount="-1,00", misc_fee_amount="-0,44", other_fee_amount="-0,50",
                    other_fee_reason_description="Coupon fee", direct_payment_type="StorefrontCredit", direct_payment_amount="5,00"),
            v1_line(transaction_type="Subscription Fee", order_id="", sku="", quantity_purchased="", order_item_code="", other_amount="-39,00",
                    posted_date="2025-06-15T00:00:00+02:00"),
            v1_line(transaction_type="Refund", adjustment_id="amzn1.adj.9", price_type="Principal", price_amount="-1,00",
                    item_related_fee_type="RefundCommission", item_related_fee_amount="-0,20", quantity_purchased="")]
    text = report(sandbox_report.V1_COLUMNS, V1_DE_SUMMARY, rows, newline="\r\n")
    parsed = parse_settlement_report(decode_report(gzip.compress(text.encode("iso-8859-1")), "ISO-8859-1"))
    assert parsed.bad_rows.is_empty()
    got = parsed.lines.select("line_no", "transaction_type", "amount_type", "amount_description", "amount").rows()
    assert got == [
        (3, "Order", "ItemPrice", "Principal", Decimal("1100")), (3, "Order", "ItemFees", "Commission", Decimal("-165")),
        (3, "Order", "Promotion", "Principal", Decimal("-10")),
        (4, "Order", "ItemPrice", "Shipping", Decimal("95")), (4, "Order", "ShipmentFees", "FBA transportation fee", Decimal("-2.5")),
        (4, "Order", "OrderFees", "Gift wrap chargeback", Decimal("-1")), (4, "Order", "DirectPayment", "StorefrontCredit", Decimal("5")),
        (4, "Order", "ItemFees", "MiscFee", Decimal("-0.44")), (4, "Order", "ItemFees", "Coupon fee", Decimal("-0.5")),
        (5, "other-transaction", "other-transaction", "Subscription Fee", Decimal("-39")),
        (6, "Refund", "ItemPrice", "Principal", Decimal("-1")), (6, "Refund", "ItemFees", "RefundCommission", Decimal("-0.2")),
    ]
    assert parsed.lines["amount"].sum() == parsed.summaries["reported_total"][0]
    assert parsed.summaries.select("period_start", "period_end", "deposit_date").row(0) == (
        datetime(2025, 6, 1, tzinfo=timezone.utc), datetime(2025, 6, 14, 22, tzinfo=timezone.utc), datetime(2025, 6, 17, 10, 30, tzinfo=timezone.utc))
    posted = dict(parsed.lines.select("line_no", "posted_at").unique("line_no").iter_rows())
    assert posted == {3: datetime(2025, 6, 9, 5, 23, 19, tzinfo=timezone.utc), 4: datetime(2025, 6, 9, tzinfo=timezone.utc),
                      5: datetime(2025, 6, 14, 22, tzinfo=timezone.utc), 6: datetime(2025, 6, 9, tzinfo=timezone.utc)}
    assert parsed.lines.filter(pl.col("line_no") == 3)["promotion_id"].to_list() == ["PROMO-1"] * 3
    assert parsed.lines["sku"][0] == "MÜSLI-Größe" and parsed.lines["quantity"][0] == 2 and parsed.lines["extra"][0] is None


def test_a_broken_v1_row_is_set_aside_once_with_its_reason_and_the_rest_go_on():
    good = v1_line(price_type="Principal", price_amount="10,00", item_related_fee_type="Commission", item_related_fee_amount="-1,50")
    rows = [good, dict(good, item_related_fee_amount=""), dict(good, price_type=""), dict(good, promotion_amount="zehn", promotion_type="Principal"),
            v1_line(), dict(good, posted_date="gestern"), dict(good, quantity_purchased="zwei"), dict(good, settlement_id="")]
    parsed = parse_settlement_report(report(sandbox_report.V1_COLUMNS, dict(V1_DE_SUMMARY, total_amount="8,50"), rows))
    assert parsed.lines.select("line_no", "amount").rows() == [(3, Decimal("10")), (3, Decimal("-1.5"))]
    assert dict(parsed.bad_rows.select("line_no", "reason").iter_rows()) == {
        4: "item-related-fee-type 'Commission' has no item-related-fee-amount", 5: "price-amount '10,00' has no price-type",
        6: "promotion-amount 'zehn' is not an amount", 7: "the row has no amount", 8: "posted-date 'gestern' is not a date",
        9: "quantity-purchased 'zwei' is not a whole number", 10: "the row has no settlement-id"}
    assert parsed.bad_rows.filter(pl.col("line_no") == 4)["raw"][0] == row(sandbox_report.V1_COLUMNS, **dict(good, item_related_fee_amount=""))
    assert parsed.bad_rows["order_id"].to_list() == ["302-1234567-1234567"] * 7


def test_the_layout_is_told_by_the_header_and_an_unknown_or_incomplete_one_is_refused():
    with pytest.raises(ReportFormatError, match="not a settlement report of a known layout: .*no amount-type.*column \\(V2\\) and no price-type"):
        parse_settlement_report("settlement-id\ttotal-amount\tcurrency\ttransaction-type\torder-id\tamount\n1\t2\tUSD\t\t\t\n")
    incomplete = [c for c in sandbox_report.V1_COLUMNS if c != "other-amount"]
    with pytest.raises(ReportFormatError, match="not a V1 settlement report: the header has no other-amount column"):
        parse_settlement_report(report(incomplete, V1_DE_SUMMARY, []))
    with pytest.raises(ReportFormatError, match="not a V2 settlement report: the header has no amount-description column"):
        parse_settlement_report(report([c for c in COLUMNS if c != "amount-description"], US_SUMMARY, []))


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
