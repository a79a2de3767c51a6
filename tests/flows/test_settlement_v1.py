"""The settlement flow on the older V1 flat file, run for real: a V1 file and a V2 file of the same
settlement (written by the sandbox from one Settlement) → OM invoice payments once."""

import gzip
from datetime import timedelta
from decimal import Decimal

import pytest

from omsync.flows.settlement import settlement
from omsync.sandbox import settlement_report
from omsync.sandbox.clock import parse_iso
from omsync.sandbox.marketplaces import MARKETPLACES
from omsync.sandbox.orders import OrderLine, SimOrder
from tests.flows.test_settlement import invoices, payments, query, settled_world

MONEY_FIELDS = ("unit_price", "shipping", "tax", "shipping_tax", "discount")


def shipped_orders(world) -> list[SimOrder]:
    """The sandbox's shipped orders as the sandbox holds them, to settle them in a file of our own."""
    return [SimOrder(o["orderId"], number, parse_iso(o["created"]), parse_iso(o["lastUpdated"]), o["fulfilledBy"], o["status"], None,
                     [OrderLine(**{k: Decimal(str(v)) if k in MONEY_FIELDS else v for k, v in line.items()}) for line in o["lines"]], 0.0)
            for number, o in enumerate(world.sandbox.admin("GET", "orders")["orders"]) if o["status"] == "SHIPPED"]


# SQLite only: the layout is the parser's; applying once on PostgreSQL is tests/flows/test_settlement.py's.
@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_v1_file_and_a_v2_file_of_the_same_period_import_side_by_side_and_reimporting_either_applies_nothing(world, tmp_path):
    settled_world(world)
    orders, info = shipped_orders(world), MARKETPLACES["ATVPDKIKX0DER"]
    assert len(orders) >= 4
    end = max(o.updated for o in orders) + timedelta(hours=1)
    one = settlement_report.Settlement("771000000001", end - timedelta(days=14), end, end + timedelta(days=3), info.currency)
    for order in orders:
        one.lines += settlement_report.order_lines(order, info, order.updated)
    one.lines += settlement_report.account_lines(Decimal("500"), Decimal(0), end, fba=False)[0]
    v1, v2 = tmp_path / "archive-2025-v1.txt.gz", tmp_path / "settlement-v2.txt"
    v1.write_bytes(gzip.compress(settlement_report.render_v1(one, info, 1).encode()))
    v2.write_text(settlement_report.render(one, info, 1))

    both = settlement(resources=world.resources, files=[str(v1), str(v2)])

    assert both["reports unreadable"] == 0 and both["unbalanced settlements"] == 0
    assert both["settlements applied"] == 1 and both["settlements already applied"] == 1, "one settlement, in two layouts: applied once"
    assert both["invoices paid"] == len(orders) and both["exceptions"] == 0
    recorded = payments(world)
    by_order = dict(invoices(world).select("order_id", "invoice_id").iter_rows())
    assert sorted(recorded["invoice_id"]) == sorted(by_order[o.order_id] for o in orders)
    assert recorded["settlement_id"].unique().to_list() == ["771000000001"]
    assert recorded["amount"].sum() == sum((l.amount for l in one.lines if l.amount_type in ("ItemPrice", "Promotion")), Decimal(0))
    row = query(world, "SELECT settlement_id, source_file, balanced, reported_total, computed_total, line_count, bad_rows FROM recon.settlements")
    assert row.rows() == [("771000000001", str(v1.resolve()), True, one.total, one.total, len(one.lines), 0)], "read from the V1 file"

    om_before = (invoices(world), payments(world))
    for file in (v2, v1):
        again = settlement(resources=world.resources, files=[str(file)])
        assert again["settlements applied"] == 0 and again["settlements already applied"] == 1
        assert invoices(world).equals(om_before[0]) and payments(world).equals(om_before[1])
    assert query(world, "SELECT count(*) AS n FROM recon.settlements")["n"][0] == 1
    assert query(world, "SELECT count(*) AS n FROM recon.exceptions")["n"][0] == 0
