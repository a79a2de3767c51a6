"""What one settlement becomes: the settlements a file holds, the orders it can settle, its record row
and exceptions, which Terms judge an invoice, how fees add up, the open receivables."""

from datetime import date, datetime, timezone
from decimal import Decimal

import polars as pl

from omsync.core.schemas import INVOICE_SCHEMA, MONEY
from omsync.transforms.settlement_records import (accumulated_fees, applicable_terms, open_receivables, settlement_exceptions, settlement_row,
                                          settlements_in, split_incomplete)
from omsync.transforms.settlement_report import ParsedReport


def test_settlements_in_a_file_are_listed_once_in_order_of_appearance():
    parsed = ParsedReport(summaries=pl.DataFrame({"settlement_id": ["B"]}), lines=pl.DataFrame({"settlement_id": ["A", "B", "A"]}),
                          bad_rows=pl.DataFrame({"settlement_id": [None, "C"]}, schema={"settlement_id": pl.String}))
    assert settlements_in(parsed) == ["B", "A", "C"]


def test_an_order_with_an_unparsed_row_is_not_settled():
    settled = pl.DataFrame({"settlement_id": ["S", "S"], "order_id": ["ok", "broken"], "settled": [Decimal("5"), Decimal("7")]})
    bad = pl.DataFrame({"order_id": ["broken", None]}, schema={"order_id": pl.String})
    settleable, incomplete = split_incomplete(settled, bad)
    assert settleable["order_id"].to_list() == ["ok"] and incomplete["order_id"].to_list() == ["broken"]


def test_settlement_exceptions_name_bad_rows_incomplete_orders_and_an_unbalanced_total():
    bad = pl.DataFrame({"settlement_id": ["S"], "line_no": [4], "order_id": ["broken"], "reason": ["bad amount"], "raw": ["x\ty"]})
    incomplete = pl.DataFrame({"settlement_id": ["S"], "order_id": ["broken"], "settled": [Decimal("7")]})
    found = settlement_exceptions("S", Decimal("10"), Decimal("12"), False, True, bad, incomplete)
    assert found.select("kind", "key", "amount").rows() == [("unparseable_row", "S:line 4", None), ("incomplete_order", "S:broken", Decimal("7")),
                                                            ("unbalanced", "S", Decimal("2"))]
    assert settlement_exceptions("S", None, Decimal("1"), False, False, bad.clear(), incomplete.clear())["reason"].to_list() == [
        "the file has no readable summary row: the deposit total cannot be checked"]
    assert settlement_exceptions("S", Decimal("1"), Decimal("1"), True, True, bad.clear(), incomplete.clear()).is_empty()


def test_settlement_row_records_where_it_came_from_typed():
    head = {"period_start": datetime(2026, 1, 1, tzinfo=timezone.utc), "deposit_date": None, "currency": "USD", "reported_total": Decimal("3")}
    from_file = settlement_row("S", head, Decimal("3"), True, 10, 1, None, "/tmp/s.txt").row(0, named=True)
    assert from_file["source_file"] == "/tmp/s.txt" and from_file["report_id"] is None and from_file["line_count"] == 10
    from_amazon = settlement_row("S", head, Decimal("3"), True, 10, 1, "R1", "report R1")
    assert from_amazon["source_file"].to_list() == [None] and from_amazon.schema["reported_total"] == MONEY


def invoice_rows(**columns):
    base = {"invoice_id": [1, 2, 3], "invoice_no": ["I1", "I2", "I3"], "sales_order_id": [1, 2, 3], "order_id": ["a", "b", "c"],
            "amount": [Decimal("10")] * 3, "currency": ["USD"] * 3, "invoice_date": [date(2026, 1, 1)] * 3, "due_date": [date(2026, 1, 15)] * 3,
            "payment_status": ["unpaid"] * 3, "paid_before": [None] * 3}
    return pl.DataFrame({**base, **columns}, schema_overrides={"amount": MONEY, "paid_before": MONEY})


def test_an_invoice_is_judged_under_its_own_terms_else_its_orders():
    terms = pl.DataFrame({"terms_code": ["NET14", "NET30"], "tolerance": [Decimal("0.05"), Decimal("1")]})
    judged = applicable_terms(invoice_rows(invoice_terms=["NET30", None, None], order_terms=["NET14", "NET14", "GONE"]), terms)
    assert judged.columns == list(INVOICE_SCHEMA) and judged["tolerance"].to_list() == [Decimal("1"), Decimal("0.05"), None]


def test_fees_add_up_over_settlements_and_a_settlement_applied_again_replaces_its_part():
    recorded = pl.DataFrame({"invoice_id": [1, 2, 3], "fees": [Decimal("-2"), Decimal("-2"), None], "last_settlement_id": ["S1", "S1", None]},
                            schema_overrides={"fees": MONEY})
    incoming = pl.DataFrame({"invoice_id": [1, 2, 3, 4, 5], "fees": [Decimal("-3"), Decimal("-3"), Decimal("-1"), Decimal("-4"), None],
                             "last_settlement_id": ["S2", "S1", "S2", "S2", None]}, schema_overrides={"fees": MONEY})
    fees = dict(accumulated_fees(incoming, recorded).select("invoice_id", "fees").iter_rows())
    assert fees == {1: Decimal("-5"), 2: Decimal("-3"), 3: Decimal("-1"), 4: Decimal("-4"), 5: None}
    refreshed = accumulated_fees(incoming.with_columns(last_settlement_id=pl.lit(None, pl.String)), recorded)
    assert refreshed["fees"].to_list()[:3] == [Decimal("-2"), Decimal("-2"), None], "the Terms' refresh keeps what settlements recorded"


def test_open_receivables_mark_the_overdue_invoices_and_know_nothing_of_payments():
    unpaid = invoice_rows(tolerance=[Decimal("0")] * 3).select(*INVOICE_SCHEMA)
    overdue = pl.DataFrame({"invoice_id": [2], "payment_status": ["overdue"], "reason": ["due 2026-01-15, unpaid on 2026-02-01"]})
    receivables = open_receivables(unpaid, overdue)
    assert dict(receivables.select("invoice_id", "payment_status").iter_rows()) == {1: "unpaid", 2: "overdue", 3: "unpaid"}
    assert receivables.filter(pl.col("invoice_id") == 2)["reason"].item().startswith("due")
    assert receivables.select("settled", "fees", "paid_at", "last_settlement_id").null_count().row(0) == (3, 3, 3, 3)
