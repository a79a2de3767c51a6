"""Deferred per-shipment payouts under SELLER: paid per shipment-id, held to delivery + 7 days
(Amazon Business: 30–45 days), shown by the Finances API 2024-06-19 as DEFERRED → DEFERRED_RELEASED."""

from datetime import timedelta
from decimal import Decimal


from omsync.sandbox.clock import parse_iso
from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.realism import SELLER
from omsync.sandbox.settlement_report import order_lines
from tests.sandbox.test_conformance import check


def seller_market(**shares) -> Marketplace:
    m = Marketplace(seed=11, settlement_days=365, realism=SELLER.with_changes({"sell_in_region": False, "fba_share": 0, "both_share": 0, "buyer_cancel_request_share": 0,
                                                          "outside_share": 1.0, "split_share": 1.0, "business_share": 0, **shares}))
    m.add_listings([{"sku": f"P-{i}", "productType": "HOME", "quantity": 500, "price": "30.00"} for i in range(6)])
    return m


def settled_rows(m: Marketplace) -> list[list[str]]:
    report = m.issue_settlement(compress=False)
    return [line.split("\t") for line in m.state.documents[report.document_id].content.decode().splitlines()[2:]]


def test_a_shipment_is_paid_only_after_delivery_plus_seven_days_and_each_on_its_own():
    m = seller_market()
    placed = m.place_orders(20, fulfilled_by="MERCHANT", basket_sizes=[2])
    m.advance(3 * 86400)
    orders = [m.state.orders[i] for i in placed if m.state.orders[i].status == "SHIPPED"]
    assert orders and all(len(o.packages) == 2 for o in orders)
    assert not [r for r in settled_rows(m) if r[6] == "Order"], "nothing is paid while the goods are on their way"
    m.advance(15 * 86400)
    rows = [r for r in settled_rows(m) if r[6] == "Order"]
    by_order: dict[str, set[str]] = {}
    for row in rows:
        by_order.setdefault(row[7], set()).add(row[10])
    assert all(len(by_order[o.order_id]) == 2 for o in orders), "two shipments, two shipment-ids"
    for order in orders:  # the parts add up to what a whole-order payout would have paid
        whole = sum((l.amount for l in order_lines(order, m.info, m.now())), Decimal(0))
        paid = sum(Decimal(r[14]) for r in rows if r[7] == order.order_id)
        assert paid == whole and order.settled_in
    assert {p["reason"] for p in m.state.payouts} == {"DD7"}


def test_amazon_business_invoiced_orders_are_paid_after_30_to_45_days():
    m = seller_market(business_share=1.0, split_share=0.0)
    placed = m.place_orders(5, fulfilled_by="MERCHANT")
    m.advance(20 * 86400)
    assert not [r for r in settled_rows(m) if r[6] == "Order"]
    m.advance(30 * 86400)
    assert {r[7] for r in settled_rows(m) if r[6] == "Order"} == {i for i in placed if m.state.orders[i].status == "SHIPPED"}
    released = [parse_iso(p["releasedAt"]) - parse_iso(p["shippedAt"]) for p in m.state.payouts]
    assert all(timedelta(days=30) <= d <= timedelta(days=45) for d in released) and {p["reason"] for p in m.state.payouts} == {"B2B"}


def test_list_transactions_shows_deferred_then_released_shipments(sandbox, api):
    sandbox.admin("POST", "reset", {"profile": "seller", "settings": {"sell_in_region": False, "fba_share": 0, "both_share": 0, "outside_share": 1.0,
                                                                      "split_share": 0, "buyer_cancel_request_share": 0}})
    sandbox.admin("POST", "listings", {"listings": [{"sku": "T-1", "productType": "HOME", "quantity": 50, "price": "25.00"}]})
    placed = sandbox.admin("POST", "orders", {"count": 3, "fulfilledBy": "MERCHANT", "release": True})["orderIds"]
    sandbox.admin("POST", "clock/advance", {"days": 2})
    params = {"postedAfter": "2020-01-01T00:00:00Z"}
    assert check("listTransactions", api.get("/finances/2024-06-19/transactions", params=params))["payload"]["transactions"] == [], \
        "a range over 180 days answers nothing"
    since = {"postedAfter": (parse_iso(sandbox.admin("GET", "clock")["now"]) - timedelta(days=10)).isoformat()}
    held = check("listTransactions", api.get("/finances/2024-06-19/transactions", params=since))["payload"]["transactions"]
    assert len(held) == 3 and {t["transactionStatus"] for t in held} == {"DEFERRED"}
    assert {t["contexts"][0]["deferralReason"] for t in held} == {"DD7"} and all(t["contexts"][0]["maturityDate"] for t in held)
    sandbox.admin("POST", "clock/advance", {"days": 14})
    sandbox.admin("POST", "settlements", {})
    since = {"postedAfter": (parse_iso(sandbox.admin("GET", "clock")["now"]) - timedelta(days=20)).isoformat()}
    released = check("listTransactions", api.get("/finances/2024-06-19/transactions", params={**since, "transactionStatus": "DEFERRED_RELEASED"}))
    assert {next(i["relatedIdentifierValue"] for i in t["relatedIdentifiers"] if i["relatedIdentifierName"] == "ORDER_ID")
            for t in released["payload"]["transactions"]} == set(placed)
    one = check("listTransactions", api.get("/finances/2024-06-19/transactions", params={"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": placed[0]}))
    assert len(one["payload"]["transactions"]) == 1
    refused = check("listTransactions", api.get("/finances/2024-06-19/transactions", params={"postedBefore": "2020-01-01T00:00:00Z"}))
    assert refused["errors"][0]["code"] == "InvalidInput"
    truth = sandbox.admin("GET", "truth/payouts")
    assert {p["orderId"] for p in truth["payouts"]} == set(placed) and {p["reason"] for p in truth["payouts"]} == {"DD7"}
    assert Decimal(truth["total"]) > 0
