"""Ground truth for measuring a trading day: what a buyer could buy at each moment (each SKU's
sellable quantity and price per marketplace, as a series of changes), what Amazon accepted (orders,
items, cancel requests and whether they were honoured, packages and who shipped them, ship-by
times) and what was paid when. Taken from the sandbox's own state, never from omsync's records."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from omsync.sandbox.clock import iso
from omsync.sandbox.listings import Listing
from omsync.sandbox.offers import outside_limits, our_price
from omsync.sandbox.orders import SimOrder


class Offered(NamedTuple):
    """A SKU as buyers saw it from simulated second `elapsed` on, until its next change."""

    elapsed: float
    sku: str
    marketplace_id: str
    merchant_quantity: int | None
    fba_quantity: int | None
    price: str | None  # our price
    sale: tuple[str, str | None, str | None] | None  # (price, start, end) of a scheduled sale
    suppressed: bool


def offered(listing: Listing | None, sku: str, marketplace_id: str, elapsed: float) -> Offered:
    if listing is None:  # deleted: nothing to buy
        return Offered(elapsed, sku, marketplace_id, None, None, None, None, False)
    offer = next((o for o in listing.attributes.get("purchasable_offer", [])
                  if o.get("audience", "ALL") == "ALL" and o.get("marketplace_id", marketplace_id) == marketplace_id), None)
    price = our_price(offer) if offer else None
    sale = None
    for entry in ((offer or {}).get("discounted_price") or [{}])[0].get("schedule") or []:
        sale = (str(entry["value_with_tax"]), entry.get("start_at"), entry.get("end_at"))
    return Offered(elapsed, sku, marketplace_id, listing.quantity(), listing.fba_quantity(), None if price is None else str(price),
                   sale, bool(offer and outside_limits(offer)))


def buyer_view(entry: Offered, at: datetime) -> dict[str, Any]:
    """What a buyer could buy: nothing while unpriced or suppressed; the sale price while it runs."""
    price = None if entry.suppressed else entry.price
    if price is not None and entry.sale:
        value, start, end = entry.sale
        if (start is None or start <= iso(at)) and (end is None or iso(at) < end):
            price = value
    stock = (entry.merchant_quantity or 0) + (entry.fba_quantity or 0)
    return {"sku": entry.sku, "marketplaceId": entry.marketplace_id, "sellable": stock if price is not None else 0,
            "merchantQuantity": entry.merchant_quantity, "fbaQuantity": entry.fba_quantity, "price": price,
            "suppressed": entry.suppressed}


def listings_at(history: list[Offered], start: datetime, elapsed: float, skus: set[str] | None) -> list[dict[str, Any]]:
    latest: dict[tuple[str, str], Offered] = {}
    for entry in history:
        if entry.elapsed > elapsed:
            break
        if skus is None or entry.sku in skus:
            latest[(entry.sku, entry.marketplace_id)] = entry
    at = start + timedelta(seconds=elapsed)
    return [buyer_view(e, at) | {"since": iso(start + timedelta(seconds=e.elapsed))} for e in sorted(latest.values(), key=lambda e: e.sku)]


def series(history: list[Offered], start: datetime, sku: str) -> list[dict[str, Any]]:
    return [buyer_view(e, start + timedelta(seconds=e.elapsed)) | {"at": iso(start + timedelta(seconds=e.elapsed))}
            for e in history if e.sku == sku]


def order_truth(order: SimOrder) -> dict[str, Any]:
    """What Amazon accepted of one order, and what became of it."""
    request = None
    if order.cancel_requested:
        honoured = order.status == "CANCELLED" or any(l.cancelled for l in order.lines)
        request = {"at": iso(order.cancel_requested), "reason": order.cancel_request_reason, "honoured": honoured}
    return {
        "orderId": order.order_id, "createdAt": iso(order.created), "fulfilledBy": order.fulfilled_by, "status": order.status,
        "business": order.business, "latestShipDate": iso(order.latest_ship),
        "items": [{"orderItemId": l.order_item_id, "sku": l.sku, "quantity": l.quantity, "shipped": l.shipped,
                   "unitPrice": str(l.unit_price), "cancelled": l.cancelled} for l in order.lines],
        "cancelRequest": request,
        "cancelled": None if order.status != "CANCELLED" else {"by": order.cancelled_by or "BUYER", "reason": order.cancel_reason,
                                                                "at": iso(order.updated)},
        "packages": [{"packageReferenceId": p.package_reference_id, "shippedBy": p.shipped_by, "shipTime": p.ship_date,
                      "confirmedAt": iso(p.created), "late": p.late, "items": p.items} for p in order.packages.values()],
        "late": any(p.late for p in order.packages.values()),
        "settledIn": order.settled_in,
    }


def paid_total(payouts: list[dict[str, Any]]) -> str:
    return str(sum((Decimal(p["amount"]) for p in payouts), Decimal(0)))


def all_changes(history: list[Offered], start: datetime) -> list[dict[str, Any]]:
    """Every change of what buyers saw, of every SKU, in order: the series of all SKUs at once."""
    return [buyer_view(e, start + timedelta(seconds=e.elapsed)) | {"at": iso(start + timedelta(seconds=e.elapsed))} for e in history]
