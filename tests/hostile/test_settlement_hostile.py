"""Damaged settlement files never stop the good ones (issue 16, item 12)."""

import gzip

import polars as pl
import pytest

from omsync.flows.settlement import settlement
from tests.flows.test_settlement import invoices, payments, settled_world
from omsync.transforms.settlement import classify_lines, settle_orders
from omsync.transforms.settlement_report import ReportFormatError, decode_report, parse_settlement_report


def test_a_truncated_gzip_file_is_one_clear_error_not_an_eof_error():
    whole = gzip.compress(b"settlement-id\ttotal-amount\n" * 200)
    with pytest.raises(ReportFormatError, match="truncated or damaged"):
        decode_report(whole[: len(whole) // 2], None)


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_truncated_and_a_garbage_file_do_not_stop_the_good_one(world, tmp_path):
    settled_world(world)
    report = world.sandbox.admin("POST", "settlements", {"gzip": True})
    content = world.resources.amazon.download_report(report["reportDocumentId"]).content
    good, truncated, garbage = tmp_path / "good.txt", tmp_path / "truncated.txt.gz", tmp_path / "garbage.txt"
    good.write_bytes(content)
    truncated.write_bytes(gzip.compress(content)[:200])
    garbage.write_bytes(bytes(range(256)) * 8)

    run = settlement(files=[str(truncated), str(garbage), str(good)], resources=world.resources)

    assert run["settlements applied"] == 1 and run["reports unreadable"] == 2
    assert payments(world).height == run["invoices paid"] + run["invoices disputed"] > 0
    with world.warehouse.read() as con:
        [outcome] = con.execute("SELECT outcome FROM ops.runs WHERE flow = 'settlement'").fetchone()
    assert outcome == "OK_WITH_PROBLEMS"


def settlement_text(world) -> list[str]:
    report = world.sandbox.admin("POST", "settlements", {"gzip": False})
    document = world.resources.amazon.download_report(report["reportDocumentId"])
    return decode_report(document.content, document.charset).splitlines()


# SQLite only: which delivery applies is decided on the files; paying on PostgreSQL is tests/flows/test_settlement.py's.
@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_truncated_settlement_is_completed_by_its_full_delivery_and_a_changed_one_is_an_exception(world, tmp_path):
    settled_world(world)
    rows = settlement_text(world)
    header, summary, details = rows[0], rows[1], rows[2:]
    assert len(details) >= 8
    half, changed, full = tmp_path / "half.txt", tmp_path / "changed.txt", tmp_path / "full.txt"
    half.write_text("\n".join([header, summary, *details[: len(details) // 2]]) + "\n")
    full.write_text("\n".join(rows) + "\n")
    columns = header.split("\t")
    first = details[0].split("\t")
    first[columns.index("amount")] = "1234.56"
    changed.write_text("\n".join([header, summary, "\t".join(first), *details[1:]]) + "\n")

    truncated = settlement(files=[str(half)], resources=world.resources)
    assert truncated["settlements applied"] == 1 and truncated["unbalanced settlements"] == 1
    paid_first = payments(world)

    rewritten = settlement(files=[str(changed)], resources=world.resources)
    assert rewritten["settlements applied"] == 0, "a delivery that rewrites a paid line applies nothing"
    assert payments(world).equals(paid_first)
    with world.warehouse.read() as con:
        kinds = [r[0] for r in con.execute("SELECT kind FROM recon.exceptions WHERE kind = 'changed_delivery'").fetchall()]
    assert kinds == ["changed_delivery"]

    completed = settlement(files=[str(full)], resources=world.resources)
    assert completed["settlements applied"] == 1 and completed["unbalanced settlements"] == 0
    paid = payments(world)
    assert paid.select("invoice_id", "settlement_id").is_unique().all(), "no invoice paid twice by one settlement"
    assert paid.height > paid_first.height, "the lines not applied before are applied now"
    with world.warehouse.read() as con:
        settlements = con.execute("SELECT balanced FROM recon.settlements").fetchall()
        unbalanced = con.execute("SELECT count(*) FROM recon.exceptions WHERE kind = 'unbalanced'").fetchone()[0]
    assert settlements == [(True,)] and unbalanced == 0

    again = settlement(files=[str(full)], resources=world.resources)
    assert again["settlements applied"] == 0 and payments(world).equals(paid)

    # each invoice is paid what the whole file settles for its order: the first half's payments were completed, not added to
    parsed = parse_settlement_report(full.read_text())
    settled = dict(settle_orders(classify_lines(parsed.lines)).select("order_id", "settled").iter_rows())
    paid_by_order = dict(invoices(world).join(paid, on="invoice_id").select("order_id", pl.col("amount_right")).iter_rows())
    assert paid_by_order and paid_by_order == {o: settled[o] for o in paid_by_order}


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_run_counts_only_the_payments_it_recorded_itself(world, tmp_path):
    settled_world(world)
    report = tmp_path / "settlement.txt"
    report.write_text("\n".join(settlement_text(world)) + "\n")
    first = settlement(files=[str(report)], resources=world.resources)
    assert first["invoices paid"] + first["invoices disputed"] == payments(world).height > 0
    # what a second run started at the same time sees: the settlement not yet recorded, its payments in the OM
    with world.warehouse.write() as con:
        con.execute("DELETE FROM recon.settlements")
    second = settlement(files=[str(report)], resources=world.resources)
    assert second["invoices paid"] == second["invoices disputed"] == 0, "the other run paid them, not this one"
    assert payments(world).height == first["invoices paid"] + first["invoices disputed"]
