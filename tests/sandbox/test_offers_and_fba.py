"""Whole offers and FBA listings as Amazon keeps them: replace semantics, sticky limits, suppression,
Amazon-fulfilled stock, and what a merchant quantity does to an FBA-only listing."""

from datetime import timedelta
from decimal import Decimal

from omsync.sandbox.listings import apply_patches, check_patches
from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.offers import replace_entries
from omsync.sandbox.realism import SELLER

US = "ATVPDKIKX0DER"


def seller_market(**shares) -> Marketplace:
    m = Marketplace(seed=3, realism=SELLER.with_changes({"sell_in_region": False, **shares}))
    m.add_listings([{"sku": f"SKU-{i}", "productType": "HOME"} for i in range(200)])
    return m


def replace_offer(price: str) -> list[dict]:
    return [{"op": "replace", "path": "/attributes/purchasable_offer", "value": [
        {"marketplace_id": US, "currency": "USD", "audience": "ALL", "our_price": [{"schedule": [{"value_with_tax": price}]}]}]}]


def test_the_seller_profile_seeds_whole_offers_in_realistic_shares():
    m = seller_market()
    offers = [l.attributes["purchasable_offer"] for l in m.state.listings.values()]
    everyone = [o[0] for o in offers]
    assert all("our_price" in o for o in everyone) and all("list_price" in l.attributes for l in m.state.listings.values())
    for key, low, high in (("discounted_price", 10, 55), ("minimum_seller_allowed_price", 35, 90)):
        assert low <= sum(key in o for o in everyone) <= high, key
    b2b = [o for entries in offers for o in entries if o["audience"] == "B2B" and o["marketplace_id"] == US]
    assert 5 <= len(b2b) <= 40 and all(o["quantity_discount_plan"] for o in b2b)


def test_a_replace_that_omits_the_sale_price_removes_it_and_keeps_the_b2b_offer_and_limits():
    m = seller_market(sale_share=1.0, b2b_share=1.0, min_max_share=1.0)
    listing = m.state.listings["SKU-1"]
    sale = listing.buyer_price(US, m.now())
    assert sale < listing.price(), "the sale price is what buyers pay"
    limits = listing.attributes["purchasable_offer"][0]["minimum_seller_allowed_price"]
    price = str(listing.price())
    assert check_patches(listing, "SKU-1", "HOME", replace_offer(price), US, "USD") == []
    apply_patches(listing, replace_offer(price), m.now())
    [offer, b2b] = listing.attributes["purchasable_offer"]
    assert "discounted_price" not in offer and listing.buyer_price(US, m.now()) == Decimal(price)
    assert offer["minimum_seller_allowed_price"] == limits, "min/max cannot be cleared by omitting them"
    assert b2b["audience"] == "B2B" and b2b["quantity_discount_plan"]


def test_a_replace_without_a_marketplace_matches_nothing_and_is_appended():
    current = [{"marketplace_id": US, "audience": "ALL", "our_price": [], "discounted_price": ["sale"]}]
    merged = replace_entries("purchasable_offer", current, [{"audience": "ALL", "our_price": []}])
    assert len(merged) == 2 and merged[0]["discounted_price"] == ["sale"]


def test_a_sale_price_ends_with_its_schedule():
    m = seller_market(sale_share=1.0)
    listing = m.state.listings["SKU-2"]
    assert listing.buyer_price(US, m.now()) < listing.price()
    assert listing.buyer_price(US, m.now() + timedelta(days=31)) == listing.price()


def test_a_price_outside_the_limits_is_accepted_then_suppresses_the_offer():
    m = seller_market(min_max_share=1.0)
    listing = m.state.listings["SKU-3"]
    too_high = str((listing.price() * 2).quantize(Decimal("0.01")))
    assert check_patches(listing, "SKU-3", "HOME", replace_offer(too_high), US, "USD") == []  # accepted …
    apply_patches(listing, replace_offer(too_high), m.now())
    [issue] = listing.issues()  # … then Amazon raises the issue and takes the offer down
    assert issue.suppressed and "maximum seller allowed price" in issue.message
    assert listing.buyer_price(US, m.now()) is None
    assert not any(l.sku == "SKU-3" for o in map(m.state.orders.get, m.place_orders(300)) for l in o.lines)


def test_fba_listings_are_sold_from_amazon_stock_and_a_merge_of_their_quantity_is_refused():
    m = seller_market()
    channels = [tuple(e["fulfillment_channel_code"] for e in l.attributes.get("fulfillment_availability", [])) for l in m.state.listings.values()]
    assert 30 <= channels.count(("AMAZON_NA",)) <= 70 and 8 <= channels.count(("AMAZON_NA", "DEFAULT")) <= 35
    fba = next(l for l in m.state.listings.values() if (l.fba_quantity() or 0) > 10 and l.quantity() is None)
    refused = check_patches(fba, fba.sku, "HOME", [{"op": "merge", "path": "/attributes/fulfillment_availability",
                                                    "value": [{"fulfillment_channel_code": "AMAZON_NA", "quantity": 5}]}], US, "USD")
    assert refused and "cannot be set" in refused[0].message
    before = fba.fba_quantity()
    m.place_orders(40, fulfilled_by="AMAZON", skus=[fba.sku])
    assert fba.fba_quantity() < before


def test_a_default_quantity_on_an_fba_only_listing_adds_a_merchant_offer_that_buyers_order_from():
    m = seller_market()
    fba = next(l for l in m.state.listings.values() if l.fba_quantity() is not None and l.quantity() is None)
    patch = [{"op": "merge", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 9}]}]
    assert check_patches(fba, fba.sku, "HOME", patch, US, "USD") == []  # Amazon accepts it …
    apply_patches(fba, patch, m.now())
    assert [e["fulfillment_channel_code"] for e in fba.attributes["fulfillment_availability"]] == ["AMAZON_NA", "DEFAULT"]
    placed = m.place_orders(5, fulfilled_by="MERCHANT", skus=[fba.sku])  # … and the seller must now ship it themselves
    assert placed and fba.quantity() < 9


def test_merge_is_refused_for_anything_but_quantities_and_b2b_discounts():
    m = seller_market()
    listing = m.state.listings["SKU-4"]
    merge = [{"op": "merge", "path": "/attributes/purchasable_offer", "value": [{"marketplace_id": US, "audience": "ALL", "our_price": []}]}]
    assert "merge operation is not supported" in check_patches(listing, "SKU-4", "HOME", merge, US, "USD")[0].message
    b2b = [{"op": "merge", "path": "/attributes/purchasable_offer", "value": [{"marketplace_id": US, "audience": "B2B", "quantity_discount_plan": []}]}]
    assert check_patches(listing, "SKU-4", "HOME", b2b, US, "USD") == []
