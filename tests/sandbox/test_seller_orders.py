"""Orders under the SELLER profile: buyer cancel requests that wait for the seller, the order
acknowledgement feed that cancels, Buy Shipping outside the OM in one or two packages, ship-by dates."""

from xml.etree import ElementTree

import pytest

from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.order_feeds import FEED_TYPE
from omsync.sandbox.orders import ConfirmationRefused, confirm_shipment, order_json
from omsync.sandbox.realism import SELLER

US = "ATVPDKIKX0DER"


def seller_market(**shares) -> Marketplace:
    m = Marketplace(seed=8, realism=SELLER.with_changes({"sell_in_region": False, "fba_share": 0, "both_share": 0, **shares}))
    m.add_listings([{"sku": f"SKU-{i}", "productType": "HOME", "quantity": 500, "price": "20.00"} for i in range(10)])
    return m


def ack_feed(m: Marketplace, messages: list[str]) -> str:
    body = "".join(f"<Message><MessageID>{i + 1}</MessageID><OrderAcknowledgement>{text}</OrderAcknowledgement></Message>" for i, text in enumerate(messages))
    document = m.new_upload("text/xml; charset=UTF-8")
    document.content = (f'<?xml version="1.0" encoding="UTF-8"?><AmazonEnvelope><Header><DocumentVersion>1.01</DocumentVersion>'
                        f"<MerchantIdentifier>{m.seller_id}</MerchantIdentifier></Header><MessageType>OrderAcknowledgement</MessageType>"
                        f"{body}</AmazonEnvelope>").encode()
    feed = m.create_feed(FEED_TYPE, document.document_id, [US])
    m.advance(86400)
    assert feed.status == "DONE"
    return m.state.documents[feed.result_document_id].content.decode()


def test_a_buyer_cancel_request_waits_for_the_seller():
    m = seller_market(buyer_cancel_request_share=1.0)
    placed = m.place_orders(20, fulfilled_by="MERCHANT")
    m.advance(2 * 86400)
    asked = [m.state.orders[i] for i in placed if m.state.orders[i].cancel_requested]
    assert len(asked) >= 15 and all(o.status == "UNSHIPPED" for o in asked), "Amazon does not cancel for the buyer"
    shown = order_json(asked[0], m.info, {"CANCELLATION"})
    assert shown["orderItems"][0]["cancellation"]["cancellationRequest"]["requester"] == "BUYER"
    assert "cancellationExecution" not in shown["orderItems"][0]["cancellation"]


def test_the_acknowledgement_feed_cancels_an_order_or_one_item_with_a_report():
    m = seller_market(buyer_cancel_request_share=1.0)
    whole, partial, shipped = (m.state.orders[i] for i in m.place_orders(3, fulfilled_by="MERCHANT", basket_sizes=[2]))
    m.advance(4 * 3600)
    item = shipped.lines[0]
    confirm_shipment(shipped, m.info, {"marketplaceId": US, "packageDetail": {"packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z",
                     "shipDate": "2020-01-01T00:00:00Z", "orderItems": [{"orderItemId": item.order_item_id, "quantity": item.quantity}]}}, m.now())
    report = ack_feed(m, [
        f"<AmazonOrderID>{whole.order_id}</AmazonOrderID><StatusCode>Failure</StatusCode>"
        + "".join(f"<Item><AmazonOrderItemCode>{l.order_item_id}</AmazonOrderItemCode><CancelReason>BuyerCanceled</CancelReason></Item>" for l in whole.lines),
        f"<AmazonOrderID>{partial.order_id}</AmazonOrderID><StatusCode>Failure</StatusCode><Item><AmazonOrderItemCode>{partial.lines[1].order_item_id}"
        "</AmazonOrderItemCode><CancelReason>NoInventory</CancelReason></Item>",
        f"<AmazonOrderID>{shipped.order_id}</AmazonOrderID><StatusCode>Failure</StatusCode><Item><AmazonOrderItemCode>{item.order_item_id}"
        "</AmazonOrderItemCode><CancelReason>NoInventory</CancelReason></Item>",
        "<AmazonOrderID>999-0000000-0000000</AmazonOrderID><StatusCode>Failure</StatusCode>",
        f"<AmazonOrderID>{partial.order_id}</AmazonOrderID><StatusCode>Failure</StatusCode><Item><AmazonOrderItemCode>{partial.lines[0].order_item_id}"
        "</AmazonOrderItemCode><CancelReason>OutOfStock</CancelReason></Item>",
    ])
    assert whole.status == "CANCELLED" and whole.cancelled_by == "MERCHANT"
    execution = order_json(whole, m.info, {"CANCELLATION"})["orderItems"][0]["cancellation"]["cancellationExecution"]
    assert execution == {"cancelledBy": "MERCHANT", "cancelReason": "BuyerCanceled"}
    assert partial.status == "UNSHIPPED" and [l.cancelled for l in partial.lines] == [False, True]
    with pytest.raises(ConfirmationRefused, match="cancelled"):
        confirm_shipment(partial, m.info, {"marketplaceId": US, "packageDetail": {"packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z",
                         "shipDate": "2020-01-01T00:00:00Z", "orderItems": [{"orderItemId": partial.lines[1].order_item_id, "quantity": 1}]}}, m.now())
    root = ElementTree.fromstring(report)
    summary = {e.tag: int(e.text) for e in root.find("Message/ProcessingReport/ProcessingSummary")}
    assert summary == {"MessagesProcessed": 5, "MessagesSuccessful": 2, "MessagesWithError": 3, "MessagesWithWarning": 0}
    errors = {r.findtext("MessageID"): r.findtext("ResultDescription") for r in root.iter("Result")}
    assert "shipped" in errors["3"] and "not a merchant-fulfilled order" in errors["4"] and "OutOfStock" in errors["5"]


def test_a_malformed_acknowledgement_feed_is_fatal_with_an_xml_report():
    m = seller_market()
    document = m.new_upload("text/xml")
    document.content = b"<AmazonEnvelope><Header>"
    feed = m.create_feed(FEED_TYPE, document.document_id, [US])
    m.advance(86400)
    assert feed.status == "FATAL" and b"not well-formed" in m.state.documents[feed.result_document_id].content


def test_orders_shipped_outside_the_om_in_one_or_two_packages():
    m = seller_market(outside_share=1.0, split_share=0.5, buyer_cancel_request_share=0.0)
    placed = m.place_orders(40, fulfilled_by="MERCHANT", basket_sizes=[2])
    m.advance(6 * 3600)
    partial = [m.state.orders[i] for i in placed if m.state.orders[i].status == "PARTIALLY_SHIPPED"]
    assert partial, "the first of two packages has gone"
    m.advance(3 * 86400)
    orders = [m.state.orders[i] for i in placed if m.state.orders[i].status != "CANCELLED"]
    assert all(o.status == "SHIPPED" for o in orders)
    two = [o for o in orders if len(o.packages) == 2]
    assert 8 <= len(two) <= 32 and all(p.shipped_by == "BUY_SHIPPING" for o in orders for p in o.packages.values())
    shown = order_json(two[0], m.info, {"PACKAGES"})
    assert len(shown["packages"]) == 2 and shown["packages"][0]["carrier"] == "UPS"
    with pytest.raises(ConfirmationRefused, match="Buy Shipping"):
        confirm_shipment(two[0], m.info, {"marketplaceId": US, "packageDetail": {"packageReferenceId": "9", "carrierCode": "UPS", "trackingNumber": "1Z",
                         "shipDate": "2020-01-01T00:00:00Z", "orderItems": [{"orderItemId": two[0].lines[0].order_item_id, "quantity": 1}]}}, m.now())


def test_confirm_shipment_refuses_a_future_ship_date_and_marks_a_late_package():
    m = seller_market(buyer_cancel_request_share=0.0, outside_share=0.0)
    [order_id] = m.place_orders(1, fulfilled_by="MERCHANT", basket_sizes=[1])
    order = m.state.orders[order_id]
    m.advance(5 * 86400)
    body = lambda when: {"marketplaceId": US, "packageDetail": {"packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z",
                         "shipDate": when, "orderItems": [{"orderItemId": order.lines[0].order_item_id, "quantity": order.lines[0].quantity}]}}
    with pytest.raises(ConfirmationRefused, match="future"):
        confirm_shipment(order, m.info, body("2099-01-01T00:00:00Z"), m.now(), check_dates=True)
    with pytest.raises(ConfirmationRefused, match="before the order"):
        confirm_shipment(order, m.info, body("2000-01-01T00:00:00Z"), m.now(), check_dates=True, after_purchase=True)
    confirm_shipment(order, m.info, body("2000-01-01T00:00:00Z"), m.now(), check_dates=True)
    assert order.status == "SHIPPED" and order.packages["1"].late  # five days after the order: past its latest ship date
