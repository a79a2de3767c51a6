"""Whole offers as Amazon keeps them in `purchasable_offer`: our price, a scheduled sale price,
minimum/maximum seller-allowed prices, a B2B audience offer with quantity discounts, and the
separate `list_price`; how a `replace` overwrites the offer it matches, and the price a buyer sees."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from omsync.sandbox.clock import iso, parse_iso
from omsync.sandbox.realism import Realism

# Selectors: the sub-fields that say which entry of a multi-valued attribute a value is for.
SELECTORS = {
    "purchasable_offer": ("marketplace_id", "audience"),
    "fulfillment_availability": ("fulfillment_channel_code",),
}
# What a replace cannot clear: omitted, null or [] keeps the old value (selling-partner-api-models#4898).
STICKY = {"purchasable_offer": ("minimum_seller_allowed_price", "maximum_seller_allowed_price")}


def _selector(name: str, entry: dict) -> tuple | None:
    keys = SELECTORS[name]
    if name == "purchasable_offer":
        if entry.get("marketplace_id") is None:
            return None  # matches nothing: Amazon appends it (#5235)
        return entry["marketplace_id"], entry.get("audience") or "ALL"
    return tuple(entry.get(k) for k in keys)


def replace_entries(name: str, current: list[dict], incoming: list[dict]) -> list[dict]:
    """`replace` of a multi-valued attribute: each value overwrites the entry its selectors match (its
    omitted sub-fields are dropped, except the sticky ones) or is appended; other entries stay."""
    if name not in SELECTORS:
        return [dict(v) for v in incoming]
    result = [dict(e) for e in current]
    for value in incoming:
        key = _selector(name, value)
        position = next((i for i, e in enumerate(result) if key is not None and _selector(name, e) == key), None)
        new = dict(value)
        if position is None:
            result.append(new)
            continue
        for sticky in STICKY.get(name, ()):
            if not new.get(sticky) and result[position].get(sticky):
                new[sticky] = result[position][sticky]
        result[position] = new
    return result


def delete_entries(name: str, current: list[dict], selected: list[dict]) -> list[dict]:
    """`delete` with values removes the entries they select; without values, the whole attribute."""
    if not selected or name not in SELECTORS:
        return []
    keys = {_selector(name, v) for v in selected}
    return [e for e in current if _selector(name, e) not in keys]


def _amount(prices: list[dict] | None) -> Decimal | None:
    for price in prices or []:
        for entry in price.get("schedule") or []:
            if entry.get("value_with_tax") is not None:
                return Decimal(str(entry["value_with_tax"]))
    return None


def sale_amount(offer: dict, now: datetime) -> Decimal | None:
    """The sale price in force at `now`, if the offer has one."""
    for price in offer.get("discounted_price") or []:
        for entry in price.get("schedule") or []:
            start, end = entry.get("start_at"), entry.get("end_at")
            if (start is None or parse_iso(start) <= now) and (end is None or now < parse_iso(end)):
                return Decimal(str(entry["value_with_tax"]))
    return None


def our_price(offer: dict) -> Decimal | None:
    return _amount(offer.get("our_price"))


def outside_limits(offer: dict) -> str | None:
    """Why Amazon suppresses this offer: its price is below the minimum or above the maximum the seller allowed."""
    price = our_price(offer)
    low, high = _amount(offer.get("minimum_seller_allowed_price")), _amount(offer.get("maximum_seller_allowed_price"))
    if price is None:
        return None
    if low is not None and price < low:
        return f"The price {price} is below the minimum seller allowed price {low}."
    if high is not None and price > high:
        return f"The price {price} is above the maximum seller allowed price {high}."
    return None


def buyer_price(offers: list[dict], marketplace_id: str, now: datetime, audience: str = "ALL") -> Decimal | None:
    """What a buyer pays in this marketplace now: the sale price while it runs, else our price; none while suppressed."""
    for offer in offers:
        if offer.get("audience", "ALL") != audience or offer.get("marketplace_id", marketplace_id) != marketplace_id:
            continue
        if outside_limits(offer):
            return None
        sale = sale_amount(offer, now)
        return sale if sale is not None else our_price(offer)
    return None


def seeded_offers(sku: str, seed: int, marketplace_id: str, currency: str, price: Decimal, realism: Realism,
                  now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The offer attributes a SKU already has on Amazon: our price, and by the realism shares a sale,
    min/max limits around the price, a B2B offer with quantity discounts, and a list price."""
    r = random.Random(f"{seed}:offer:{marketplace_id}:{sku}")
    value = lambda amount: [{"schedule": [{"value_with_tax": float(amount)}]}]
    offer: dict[str, Any] = {"marketplace_id": marketplace_id, "currency": currency, "audience": "ALL", "our_price": value(price)}
    if r.random() < realism.sale_share:
        sale = (price * Decimal(str(r.choice([0.8, 0.85, 0.9])))).quantize(Decimal("0.01"))
        start, end = now - timedelta(days=r.randint(0, 3)), now + timedelta(days=r.randint(7, 30))
        offer["discounted_price"] = [{"schedule": [{"start_at": iso(start), "end_at": iso(end), "value_with_tax": float(sale)}]}]
    if r.random() < realism.min_max_share:
        offer["minimum_seller_allowed_price"] = value((price * Decimal("0.7")).quantize(Decimal("0.01")))
        offer["maximum_seller_allowed_price"] = value((price * Decimal("1.5")).quantize(Decimal("0.01")))
    attributes: dict[str, list[dict[str, Any]]] = {"purchasable_offer": [offer]}
    if r.random() < realism.b2b_share:
        attributes["purchasable_offer"].append({
            "marketplace_id": marketplace_id, "currency": currency, "audience": "B2B",
            "our_price": value((price * Decimal("0.95")).quantize(Decimal("0.01"))),
            "quantity_discount_plan": [{"schedule": [{"discount_type": "percent", "levels": [
                {"lower_bound": 5, "value": 5}, {"lower_bound": 20, "value": 10}]}]}],
        })
    if realism.seed_prices:
        attributes["list_price"] = [{"marketplace_id": marketplace_id, "currency": currency,
                                     "value_with_tax": float((price * Decimal("1.25")).quantize(Decimal("0.01")))}]
    return attributes


def seeded_price(sku: str, seed: int) -> Decimal:
    """The price a SKU published without one already has on Amazon."""
    r = random.Random(f"{seed}:price:{sku}")
    return Decimal(r.randint(5, 150)) - Decimal("0.01")
