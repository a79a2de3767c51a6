"""The simulated marketplace without HTTP: determinism, life cycles, feeds, settlements, persistence."""

import json
import time
from decimal import Decimal

import pytest

from omsync.sandbox.conformance import operation
from omsync.sandbox.feeds import MAX_MESSAGES, parse_listings_feed
from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.orders import ConfirmationRefused, confirm_shipment, order_json
from omsync.sandbox.settlement_report import COLUMNS


def market(seed=5, marketplace_id="ATVPDKIKX0DER", **kw) -> Marketplace:
    m = Marketplace(seed=seed, time_scale=1.0, marketplace_id=marketplace_id, **kw)
    m.add_listings([{"sku": f"SKU-{i}", "productType": "HOME", "quantity": 100, "price": f"{10 + i}.99"} for i in range(20)])
    return m


def test_the_same_seed_gives_the_same_buyers_and_orders():
    a, b = market(), market()
    assert a.place_orders(50) == b.place_orders(50)
    for order_id in a.state.orders:
        oa, ob = a.state.orders[order_id], b.state.orders[order_id]
        assert (oa.buyer, [l.sku for l in oa.lines], oa.fulfilled_by) == (ob.buyer, [l.sku for l in ob.lines], ob.fulfilled_by)
    assert market(seed=6).place_orders(5) != a.place_orders(5)


def test_buyers_come_back_and_amazon_fulfilled_orders_are_anonymous():
    m = market()
    m.place_orders(300)
    merchant = [o for o in m.state.orders.values() if o.fulfilled_by == "MERCHANT"]
    emails = [o.buyer.email for o in merchant]
    assert len(set(emails)) < len(emails), "repeat buyers"
    assert all(e.endswith("@marketplace.amazon.com") for e in emails)
    amazon = [o for o in m.state.orders.values() if o.fulfilled_by == "AMAZON"]
    assert amazon and sum(o.buyer is None for o in amazon) / len(amazon) > 0.7


def test_merchant_orders_take_stock_and_never_oversell():
    m = Marketplace(seed=1)
    m.add_listings([{"sku": "ONLY", "productType": "HOME", "quantity": 3, "price": "5.00"}])
    m.place_orders(10, fulfilled_by="MERCHANT")
    ordered = sum(l.quantity for o in m.state.orders.values() for l in o.lines)
    assert ordered == 3 and m.state.listings["ONLY"].quantity() == 0


def test_basket_sizes_set_the_lines_per_order():
    m = market()
    m.place_orders(400, basket_sizes=[1, 2, 3, 4])
    sizes = [len(o.lines) for o in m.state.orders.values()]
    assert set(sizes) == {1, 2, 3, 4} and 2.3 < sum(sizes) / len(sizes) < 2.7
    with pytest.raises(ValueError):
        m.place_orders(1, basket_sizes=[0])


def test_life_cycle_pending_then_unshipped_with_prices_appearing():
    m = market()
    [order_id] = m.place_orders(1, fulfilled_by="MERCHANT")
    order = m.state.orders[order_id]
    shown = order_json(order, m.info, {"PROCEEDS", "BUYER", "FULFILLMENT"})
    assert shown["fulfillment"]["fulfillmentStatus"] == "PENDING" and "proceeds" not in shown and "buyer" not in shown
    m.advance(2 * 3600)
    shown = order_json(order, m.info, {"PROCEEDS", "BUYER", "FULFILLMENT"})
    assert shown["fulfillment"]["fulfillmentStatus"] in ("UNSHIPPED", "CANCELLED")
    if shown["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED":
        total = Decimal(shown["proceeds"]["grandTotal"]["amount"])
        assert total == sum(Decimal(b["subtotal"]["amount"]) for b in shown["proceeds"]["breakdowns"])


def test_some_buyers_cancel():
    m = market()
    m.place_orders(400)
    m.advance(10 * 86400)
    statuses = [o.status for o in m.state.orders.values()]
    assert "CANCELLED" in statuses and statuses.count("CANCELLED") < 40
    assert "SHIPPED" in statuses  # Amazon ships its own orders


def test_confirmations_partial_edit_and_refusals():
    m = market()
    m.add_listings([{"sku": "MULTI", "productType": "HOME", "quantity": 10, "price": "3.00"}])
    [order_id] = m.place_orders(1, fulfilled_by="MERCHANT", skus=["MULTI"])
    order = m.state.orders[order_id]
    order.lines[0].quantity = 3
    m.advance(3600)
    item = order.lines[0].order_item_id

    def package(ref, quantity):
        return {"marketplaceId": "ATVPDKIKX0DER", "packageDetail": {"packageReferenceId": ref, "carrierCode": "UPS", "trackingNumber": f"T{ref}",
                "shipDate": "2026-11-27T10:00:00Z", "orderItems": [{"orderItemId": item, "quantity": quantity}]}}

    confirm_shipment(order, m.info, package("1", 1), m.now())
    assert order.status == "PARTIALLY_SHIPPED"
    confirm_shipment(order, m.info, package("1", 2), m.now())  # same package edited, still partial
    assert order.status == "PARTIALLY_SHIPPED" and len(order.packages) == 1
    with pytest.raises(ConfirmationRefused, match="exceeds"):
        confirm_shipment(order, m.info, package("2", 2), m.now())
    confirm_shipment(order, m.info, package("2", 1), m.now())
    assert order.status == "SHIPPED" and len(order.packages) == 2


def test_feeds_over_the_limit_or_not_json_are_fatal():
    message = {"messageId": 1, "sku": "S", "operationType": "DELETE"}
    big = {"header": {"sellerId": "A", "version": "2.0"}, "messages": [message] * (MAX_MESSAGES + 1)}
    assert "beyond allowed size" in parse_listings_feed(json.dumps(big).encode(), "A")
    assert "not valid UTF-8 JSON" in parse_listings_feed(b"{not json", "A")
    assert "sellerId" in parse_listings_feed(json.dumps({**big, "messages": [message]}).encode(), "B")


def _settle(m: Marketplace):
    m.place_orders(120)
    m.advance(5 * 86400)
    merchant = [o for o in m.state.orders.values() if o.fulfilled_by == "MERCHANT" and o.status == "UNSHIPPED"]
    for order in merchant[:30]:
        items = [{"orderItemId": l.order_item_id, "quantity": l.quantity} for l in order.lines]
        confirm_shipment(order, m.info, {"marketplaceId": m.info.marketplace_id, "packageDetail": {
            "packageReferenceId": "1", "carrierCode": "USPS", "trackingNumber": "9400", "shipDate": "2026-11-27T10:00:00Z", "orderItems": items}}, m.now())
    report = m.issue_settlement(compress=False)
    document = m.state.documents[report.document_id]
    return document.content.decode(m.info.charset), document


def _amount(text: str, comma: bool) -> Decimal:
    return Decimal(text.replace(".", "").replace(",", ".") if comma else text.replace(",", ""))


@pytest.mark.parametrize("marketplace_id, comma", [("ATVPDKIKX0DER", False), ("A1PA6795UKMFR9", True)])
def test_a_settlement_balances_and_is_in_the_marketplace_format(marketplace_id, comma):
    m = market(marketplace_id=marketplace_id)
    text, document = _settle(m)
    rows = [line.split("\t") for line in text.splitlines()]
    assert rows[0] == COLUMNS and all(len(r) == 24 for r in rows)
    summary, details = rows[1], rows[2:]
    assert summary[6:] == [""] * 18 and all(r[4] == "" for r in details)
    assert sum(_amount(r[14], comma) for r in details) == _amount(summary[4], comma)
    kinds = {(r[12], r[13]) for r in details}
    for expected in [("ItemPrice", "Principal"), ("ItemPrice", "Tax"), ("ItemFees", "Commission"), ("other-transaction", "Subscription Fee")]:
        assert expected in kinds
    assert ("ItemFees", "FBAPerUnitFulfillmentFee") in kinds  # Amazon-fulfilled orders shipped too
    if comma:
        assert summary[1][2] == "." and "," in summary[4] and document.content_type.endswith("ISO-8859-1")
    else:
        assert summary[1][4] == "-" and details[0][16].count("/") == 2


def test_the_next_settlement_carries_the_reserve_and_refunds_and_never_settles_twice():
    m = market()
    _settle(m)
    first_settled = {o.order_id for o in m.state.orders.values() if o.settled_in}
    m.place_orders(50)
    m.advance(86400)
    report = m.issue_settlement(compress=False)
    text = m.state.documents[report.document_id].content.decode()
    assert "Previous Reserve Amount Balance" in text
    settled_again = [line.split("\t")[7] for line in text.splitlines()[2:] if line.split("\t")[6] == "Order"]
    assert not set(settled_again) & first_settled


def test_settlement_periods_close_by_themselves():
    m = Marketplace(seed=2, settlement_days=14)
    m.advance(29 * 86400)
    assert len(m.state.reports) == 2


def test_a_new_time_scale_keeps_the_time_already_elapsed():
    market = Marketplace(seed=1, time_scale=1000)
    market.advance(7200)
    time.sleep(0.02)  # 20 simulated seconds at 1000×
    before = market.clock.elapsed()
    market.clock.set_time_scale(1)
    assert before <= market.clock.elapsed() < before + 1
    with pytest.raises(ValueError):
        market.clock.set_time_scale(0)


def test_state_survives_a_restart(tmp_path):
    path = tmp_path / "sandbox.state"
    first = Marketplace(seed=4, state_file=path)
    first.add_listings([{"sku": "A", "productType": "HOME", "quantity": 9, "price": "1.00"}])
    placed = first.place_orders(3)
    first.advance(3600)
    first.save()
    second = Marketplace(seed=99, state_file=path)
    assert sorted(second.state.orders) == sorted(placed) and second.state.seed == 4
    assert second.clock.elapsed() >= 3600


def test_the_model_validator_catches_a_broken_answer():
    broken = {"orders": [{"orderId": "1", "createdTime": "yesterday", "salesChannel": {}}]}
    errors = operation("searchOrders").response_errors(200, broken)
    assert any("createdTime" in e for e in errors) and any("lastUpdatedTime" in e for e in errors)
    assert operation("confirmShipment").response_errors(418, None)


def test_feeds_are_processed_one_at_a_time_in_the_order_they_were_created():
    m = market()
    patch = lambda q: json.dumps({"header": {"sellerId": m.seller_id, "version": "2.0"}, "messages": [
        {"messageId": 1, "sku": "SKU-1", "operationType": "PATCH", "productType": "HOME",
         "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": q}]}]}]}).encode()
    feeds = []
    for quantity in (5, 6, 7):
        document = m.new_upload("application/json")
        document.content = patch(quantity)
        feeds.append(m.create_feed("JSON_LISTINGS_FEED", document.document_id, ["ATVPDKIKX0DER"]))
    feeds[0].start_at, feeds[2].start_at = 50.0, 0.0  # the last one is ready first, yet waits its turn
    m.advance(75)
    assert [f.status for f in feeds][1:] == ["IN_QUEUE", "IN_QUEUE"]
    m.advance(3600)
    assert [f.status for f in feeds] == ["DONE"] * 3
    assert feeds[0].ended <= feeds[1].ended <= feeds[2].ended and m.state.listings["SKU-1"].quantity() == 7


def test_options_given_at_a_restart_override_the_saved_state(tmp_path):
    """#23: `omsync sandbox --order-rate 3600 --state F` after a run without orders must place orders."""
    path = tmp_path / "sandbox.state"
    first = Marketplace(seed=4, order_rate=0, settlement_days=14, state_file=path)
    first.add_listings([{"sku": "A", "productType": "HOME", "quantity": 900, "price": "1.00"}])
    first.save()
    second = Marketplace(seed=4, order_rate=3600, settlement_days=7, state_file=path)
    assert (second.state.order_rate, second.state.settlement_days) == (3600, 7)
    second.advance(60)
    assert len(second.state.orders) >= 60
    third = Marketplace(state_file=path)  # nothing given: the saved values stay
    assert third.state.order_rate == 0


def test_a_feed_message_for_a_sku_over_40_characters_is_invalid():
    m = market()
    document = m.new_upload("application/json")
    document.content = json.dumps({"header": {"sellerId": m.seller_id, "version": "2.0"}, "messages": [
        {"messageId": 1, "sku": "L" * 41, "operationType": "UPDATE", "productType": "HOME", "requirements": "LISTING_OFFER_ONLY", "attributes": {"condition_type": [{"value": "new_new"}]}},
        {"messageId": 2, "sku": "L" * 40, "operationType": "UPDATE", "productType": "HOME", "requirements": "LISTING_OFFER_ONLY", "attributes": {"condition_type": [{"value": "new_new"}]}}]}).encode()
    feed = m.create_feed("JSON_LISTINGS_FEED", document.document_id, ["ATVPDKIKX0DER"])
    m.advance(86400)
    report = json.loads(m.state.documents[feed.result_document_id].content)
    assert report["summary"]["messagesInvalid"] == 1 and report["issues"][0]["messageId"] == 1
    assert "L" * 40 in m.state.listings and "L" * 41 not in m.state.listings


def _quantity_feed(m: Marketplace, sku: str, quantity: int):
    document = m.new_upload("application/json")
    document.content = json.dumps({"header": {"sellerId": m.seller_id, "version": "2.0"}, "messages": [
        {"messageId": 1, "sku": sku, "operationType": "PATCH", "productType": "HOME",
         "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}]}]}).encode()
    return m.create_feed("JSON_LISTINGS_FEED", document.document_id, ["ATVPDKIKX0DER"])


def test_a_seller_feed_waits_long_and_a_later_patch_is_overtaken_by_it():
    from omsync.sandbox.listings import apply_patches
    from omsync.sandbox.realism import SELLER

    m = market(realism=SELLER)
    feeds = [_quantity_feed(m, "SKU-1", 5) for _ in range(40)]
    waits = sorted(f.start_at for f in feeds)
    assert waits[20] > 5 * 60 and waits[-1] > 30 * 60, "many simulated minutes in the queue, some far longer"
    old = feeds[0]
    apply_patches(m.state.listings["SKU-1"], [{"op": "merge", "path": "/attributes/fulfillment_availability",
                                               "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}], m.now())
    assert m.state.listings["SKU-1"].quantity() == 3  # the later patch applies at once …
    m.advance(old.start_at + 3600)
    assert old.status == "DONE" and m.state.listings["SKU-1"].quantity() == 5  # … and the older feed lands on top of it


def test_seller_feeds_finish_out_of_the_order_they_were_sent():
    from omsync.sandbox.realism import SELLER

    m = market(realism=SELLER)
    sent = {_quantity_feed(m, "SKU-2", q).feed_id: q for q in range(30)}
    m.advance(2 * 86400)
    feeds = [m.state.feeds[i] for i in sent]
    assert all(f.status == "DONE" for f in feeds)
    by_end = [f.feed_id for f in sorted(feeds, key=lambda f: f.done_at)]
    assert by_end != list(sent)
    assert m.state.listings["SKU-2"].quantity() == sent[by_end[-1]] != 29  # the last to finish wins, not the last sent
