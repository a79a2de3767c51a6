"""The settlement flow, run for real: sandbox settlement reports → Prefect → OM invoice payments and
the recon tables (SQLite and PostgreSQL)."""

from datetime import date
from decimal import Decimal

import polars as pl

from omsync.connectors.amazon import AmazonConnector
from omsync.flows.settlement import settlement
from omsync.flows.shipments import shipments
from omsync.sandbox.om_simulator import ship_orders
from tests.flows.conftest import latest_progress
from tests.flows.test_shipments import imported_orders


def invoices(world) -> pl.DataFrame:
    return world.om.read("SELECT i.invoice_id, s.external_order_id AS order_id, i.amount, i.payment_status, i.paid_amount, i.paid_at "
                         "FROM invoice i JOIN sales_order s USING (sales_order_id) ORDER BY 1")


def payments(world) -> pl.DataFrame:
    return world.om.read("SELECT invoice_id, settlement_id, amount, deposit_date FROM invoice_payment ORDER BY 1, 2")


def update_invoice(world, invoice_id: int, **values) -> None:
    with world.om.session() as con:
        world.om.update_matching(con, "invoice", pl.DataFrame({"invoice_id": [invoice_id], **{k: [v] for k, v in values.items()}}),
                                 ("invoice_id",))


def settled_world(world) -> list[str]:
    """Half the orders shipped and confirmed (Amazon settles them), the other half shipped in the OM
    only (invoiced, not yet settled); returns the settled order ids."""
    imported_orders(world, count=16)
    ship_orders(world.om, share=0.5, whole=True)
    shipments(resources=world.resources)
    world.sandbox.admin("POST", "clock/advance", {"seconds": 600})
    ship_orders(world.om, share=1.0, whole=True)
    return [o["orderId"] for o in world.sandbox.admin("GET", "orders")["orders"] if o["status"] == "SHIPPED"]


def query(world, sql: str) -> pl.DataFrame:
    with world.warehouse.read() as con:
        return con.execute(sql).pl()


def test_paid_disputed_overdue_refund_and_each_settlement_applied_once(world, tmp_path):
    shipped = settled_world(world)
    assert len(shipped) >= 4
    by_order = dict(invoices(world).select("order_id", "invoice_id").iter_rows())
    short, rounding = by_order[shipped[0]], by_order[shipped[1]]
    unsettled = invoices(world).filter(~pl.col("order_id").is_in(shipped))["invoice_id"]
    late, on_time = unsettled[0], unsettled[1]
    amounts = dict(invoices(world).select("invoice_id", "amount").iter_rows())
    update_invoice(world, short, amount=amounts[short] + 5)
    update_invoice(world, rounding, amount=amounts[rounding] + Decimal("0.03"))
    update_invoice(world, late, due_date=date(2020, 1, 31))
    world.sandbox.admin("POST", "settlements", {"gzip": True})

    first = settlement(resources=world.resources)

    assert first["settlements applied"] == 1 and first["unbalanced settlements"] == 0
    assert latest_progress() == ("settlement reports reconciled", 100.0)
    after = invoices(world)
    status = dict(after.select("invoice_id", "payment_status").iter_rows())
    assert status[short] == "disputed" and status[rounding] == "paid" and status[late] == "overdue" and status[on_time] == "unpaid"
    settled_invoices = after.filter(pl.col("order_id").is_in(shipped))
    assert (settled_invoices["payment_status"] != "unpaid").all()
    assert first["invoices paid"] == len(shipped) - 1 and first["invoices disputed"] == 1 and first["invoices now overdue"] == 1
    paid = settled_invoices.filter(pl.col("invoice_id") != short)
    assert (paid["paid_amount"] - paid["amount"]).abs().max() <= Decimal("0.05")
    assert paid["paid_at"].is_not_null().all()
    recorded = payments(world)
    assert recorded.height == len(shipped) and recorded["settlement_id"].n_unique() == 1
    difference = query(world, f"SELECT amount, reason FROM recon.exceptions WHERE kind = 'difference' AND order_id = '{shipped[0]}'")
    assert difference["amount"].to_list() == [Decimal("-5")] and "short by 5.00" in difference["reason"][0]
    summary = query(world, "SELECT * FROM recon.settlement_summary").row(0, named=True)
    assert summary["balanced"] and summary["reported_total"] == summary["computed_total"]
    assert summary["invoices_paid"] == len(shipped) - 1 and summary["orders"] == len(shipped)
    assert query(world, "SELECT marketplace_id FROM recon.settlements")["marketplace_id"].to_list() == ["ATVPDKIKX0DER"]
    fees = query(world, "SELECT amount_description, sum(amount) AS amount FROM recon.fees_by_type GROUP BY 1")
    assert {"Commission", "Subscription Fee", "Current Reserve Amount"} <= set(fees["amount_description"])
    receivables = query(world, "SELECT invoice_no, payment_status, days_overdue FROM recon.open_receivables")
    assert set(receivables["payment_status"]) == {"disputed", "overdue", "unpaid"}

    # Amazon refunds a settled order in the next period: a person books it, the invoice stays paid
    refunded = shipped[2]
    world.sandbox.admin("POST", f"orders/{refunded}/refund", {"kind": "A-to-z Guarantee Refund"})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 3600})
    world.sandbox.admin("POST", "settlements", {"gzip": False})
    second = settlement(resources=world.resources)
    assert second["reports read"] == 1 and second["settlements applied"] == 1
    claim = query(world, f"SELECT kind, amount FROM recon.exceptions WHERE order_id = '{refunded}' AND kind <> 'difference'")
    assert claim["kind"].to_list() == ["a_to_z_claim"] and claim["amount"][0] < 0
    assert invoices(world).filter(pl.col("order_id") == refunded)["payment_status"].to_list() == ["paid"]

    # the first settlement again, as a file a user downloaded from Seller Central: recognised, skipped
    report = min(world.sandbox.admin("GET", "reports")["reports"], key=lambda r: r["createdTime"])
    with AmazonConnector(world.resources.settings) as amazon:
        document = amazon.download_report(report["reportDocumentId"])
    downloaded = tmp_path / "settlement.txt"
    downloaded.write_bytes(document.content)
    om_before = (invoices(world), payments(world))
    again = settlement(resources=world.resources, files=[str(downloaded)])
    assert again["settlements applied"] == 0 and again["settlements already applied"] == 1
    assert invoices(world).equals(om_before[0]) and payments(world).equals(om_before[1])
    assert settlement(resources=world.resources)["reports read"] == 0


def test_killed_after_the_om_commit_the_rerun_gives_the_same_om_state(world, prefect_server):
    settled_world(world)
    world.sandbox.admin("POST", "settlements", {})
    # a slow download gives the test time to take the warehouse lock before the flow reaches the OM
    world.sandbox.admin("POST", "faults", {"operation": "getReportDocument", "latencyMs": 1500})
    world.kill_between_om_commit_and_record("settlement", prefect_server,
                                            started=lambda: bool(world.sandbox.admin("GET", "calls")["calls"].get("getReports")),
                                            committed=lambda: not payments(world).is_empty())
    world.sandbox.admin("DELETE", "faults")
    killed_state = (invoices(world), payments(world))
    assert query(world, "SELECT count(*) AS n FROM recon.settlements")["n"][0] == 0, "killed before the warehouse record"

    rerun = settlement(resources=world.resources)

    assert rerun["settlements applied"] == 1
    assert invoices(world).equals(killed_state[0]) and payments(world).equals(killed_state[1])
    assert query(world, "SELECT count(*) AS n FROM recon.settlements")["n"][0] == 1
    assert settlement(resources=world.resources)["settlements applied"] == 0
