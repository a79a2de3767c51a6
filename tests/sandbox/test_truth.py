"""The ground truth the trading-day scorecard is computed from: what buyers saw at any moment, what
Amazon accepted and what became of it, what was paid when."""

from datetime import timedelta

from omsync.sandbox.clock import iso, parse_iso


def test_the_truth_tells_what_buyers_saw_and_what_amazon_accepted(sandbox, api):
    sandbox.admin("POST", "reset", {"profile": "seller", "settings": {"sell_in_region": False, "sale_share": 1.0, "min_max_share": 0, "fba_share": 0, "both_share": 0,
                                                                      "buyer_cancel_request_share": 1.0, "outside_share": 0}})
    sandbox.admin("POST", "listings", {"listings": [{"sku": "TRUE-1", "productType": "HOME", "quantity": 10, "price": "40.00"}]})
    start = parse_iso(sandbox.admin("GET", "clock")["now"])
    [now] = sandbox.admin("GET", "truth/listings", skus="TRUE-1")["listings"]
    assert now["sellable"] == 10 and now["price"] in ("32.0", "34.0", "36.0")  # a sale of 10-20 % runs
    later = sandbox.admin("GET", "truth/listings", skus="TRUE-1", at=iso(start + timedelta(days=40)))["listings"][0]
    assert later["price"] == "40.0", "the sale has ended"
    patch = {"productType": "HOME", "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                                                 "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}]}]}
    api.patch("/listings/2021-08-01/items/A1OMSYNCDEMO/TRUE-1", params={"marketplaceIds": "ATVPDKIKX0DER"}, json=patch)
    [order_id] = sandbox.admin("POST", "orders", {"count": 1, "fulfilledBy": "MERCHANT", "release": True})["orderIds"]
    sandbox.admin("POST", "clock/advance", {"days": 1})
    changes = sandbox.admin("GET", "truth/listings/series", sku="TRUE-1")["changes"]
    assert [c["merchantQuantity"] for c in changes][:2] == [10, 4] and changes[-1]["merchantQuantity"] < 4
    before_patch = sandbox.admin("GET", "truth/listings", skus="TRUE-1", at=iso(start))["listings"][0]
    assert before_patch["merchantQuantity"] == 10
    [order] = sandbox.admin("GET", "truth/orders")["orders"]
    assert order["orderId"] == order_id and order["cancelRequest"]["honoured"] is False and order["latestShipDate"]
    assert sandbox.admin("GET", "truth/orders", at=iso(start - timedelta(days=1)))["orders"] == []
    assert sandbox.admin("GET", "truth/payouts")["payouts"] == []
