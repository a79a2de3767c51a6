"""Processing a 25,000-message JSON_LISTINGS_FEED in the sandbox, against json.loads of the same
document (the floor any processing must pay)."""

import json
import time

from omsync.sandbox.feeds import apply_listings_feed, parse_listings_feed
from omsync.sandbox.marketplace import Marketplace


def main() -> None:
    market = Marketplace(seed=1)
    market.add_listings([{"sku": f"SKU-{i}", "productType": "HOME", "quantity": 1, "price": "9.99"} for i in range(25_000)])
    messages = []
    for i in range(25_000):
        if i % 2:
            patch = {"op": "merge", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": i % 90}]}
        else:
            patch = {"op": "replace", "path": "/attributes/purchasable_offer", "value": [{"marketplace_id": "ATVPDKIKX0DER", "currency": "USD", "audience": "ALL", "our_price": [{"schedule": [{"value_with_tax": 10.5}]}]}]}
        messages.append({"messageId": i + 1, "sku": f"SKU-{i}" if i % 100 else f"GONE-{i}", "operationType": "PATCH", "productType": "HOME", "patches": [patch]})
    document = json.dumps({"header": {"sellerId": market.seller_id, "version": "2.0"}, "messages": messages}).encode()
    started = time.perf_counter()
    json.loads(document)
    floor = time.perf_counter() - started
    started = time.perf_counter()
    parsed = parse_listings_feed(document, market.seller_id)
    outcome = apply_listings_feed(parsed, "1", market.seller_id, "ATVPDKIKX0DER", "USD", market.state.listings, market.new_listing, market.now())
    took = time.perf_counter() - started
    assert outcome.report["summary"]["messagesInvalid"] == 250
    print(f"25,000 messages ({len(document) / 1e6:.1f} MB): processed in {took:.2f} s; json.loads floor {floor:.3f} s; ratio {took / floor:.0f}x")
