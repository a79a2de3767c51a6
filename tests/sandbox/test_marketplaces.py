"""A unified account selling in every marketplace of its region (SELLER): own currency and price per
marketplace, one merchant quantity per SKU, orders from all of them, a settlement per marketplace."""

from collections import Counter

from omsync.sandbox.listings import check_patches
from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.orders import order_json
from omsync.sandbox.realism import SELLER

US, CA, MX, DE = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A1PA6795UKMFR9"


def region_market() -> Marketplace:
    m = Marketplace(seed=21, settlement_days=365, realism=SELLER.with_changes({"fba_share": 0, "both_share": 0, "sale_share": 0,
                                                                               "min_max_share": 0, "buyer_cancel_request_share": 0, "outside_share": 0,
                                                                               "business_share": 0}))
    m.add_listings([{"sku": f"M-{i}", "productType": "HOME", "quantity": 400, "price": "20.00"} for i in range(8)])
    return m


def test_each_marketplace_has_its_own_currency_and_price_and_all_share_one_quantity():
    m = region_market()
    offers = {o["marketplace_id"]: o for o in m.state.listings["M-1"].attributes["purchasable_offer"] if o["audience"] == "ALL"}
    assert {k: o["currency"] for k, o in offers.items()} == {US: "USD", CA: "CAD", MX: "MXN"}
    assert offers[US]["our_price"][0]["schedule"][0]["value_with_tax"] == 20.0
    assert offers[CA]["our_price"][0]["schedule"][0]["value_with_tax"] == 27.6
    assert [e["fulfillment_channel_code"] for e in m.state.listings["M-1"].attributes["fulfillment_availability"]] == ["DEFAULT"]
    placed = [m.state.orders[i] for i in m.place_orders(200, fulfilled_by="MERCHANT")]
    where = Counter(order_json(o, m.info_of(o), {"PROCEEDS"})["salesChannel"]["marketplaceId"] for o in placed)
    assert set(where) == {US, CA, MX} and where[US] > where[CA]
    m.advance(3 * 3600)  # released: prices are shown
    canadian = next(o for o in placed if o.marketplace_id == CA and o.status == "UNSHIPPED")
    assert order_json(canadian, m.info_of(canadian), {"PROCEEDS"})["proceeds"]["grandTotal"]["currencyCode"] == "CAD"
    sold = sum(l.quantity for o in placed for l in o.lines)
    assert sum(l.quantity() for l in m.state.listings.values()) == 8 * 400 - sold, "one merchant quantity for the region"


def test_an_offer_must_be_for_a_marketplace_of_the_account_in_its_currency():
    m = region_market()
    listing = m.state.listings["M-2"]
    offer = lambda market, currency: [{"op": "replace", "path": "/attributes/purchasable_offer", "value": [
        {"marketplace_id": market, "currency": currency, "audience": "ALL", "our_price": [{"schedule": [{"value_with_tax": 30.0}]}]}]}]
    assert check_patches(listing, "M-2", "HOME", offer(CA, "CAD"), US, "USD", m.currencies()) == []
    assert "not valid for marketplace" in check_patches(listing, "M-2", "HOME", offer(CA, "USD"), US, "USD", m.currencies())[0].message
    assert "does not sell" in check_patches(listing, "M-2", "HOME", offer(DE, "EUR"), US, "USD", m.currencies())[0].message


def test_a_settlement_per_marketplace_in_its_currency():
    m = region_market()
    m.place_orders(120, fulfilled_by="AMAZON")
    m.advance(30 * 86400)
    m.issue_settlement(compress=False)
    reports = list(m.state.reports.values())
    assert sorted(r.marketplace_ids[0] for r in reports) == sorted([US, CA, MX])
    for report in reports:
        rows = [line.split("\t") for line in m.state.documents[report.document_id].content.decode().splitlines()]
        orders = {r[7] for r in rows[2:] if r[6] == "Order"}
        expected = {o.order_id for o in m.state.orders.values() if m.info_of(o).marketplace_id == report.marketplace_ids[0] and o.status == "SHIPPED"}
        assert orders == expected and rows[1][5] == {US: "USD", CA: "CAD", MX: "MXN"}[report.marketplace_ids[0]]
