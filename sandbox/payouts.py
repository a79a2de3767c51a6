"""When Amazon pays: per shipment (a package, or Amazon's own shipment of an FBA order), held until
7 days after delivery (the DD+7 reserve) or, for Amazon Business invoiced orders, 30–45 days; and the
Finances API 2024-06-19 transactions that show it (DEFERRED until the maturity date, then released)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from omsync.sandbox.clock import iso, parse_iso
from omsync.sandbox.marketplaces import MarketplaceInfo
from omsync.sandbox.orders import SimOrder, cents

DELIVERY_DAYS = (2, 5)  # from shipping to the buyer's door
RESERVE_DAYS_AFTER_DELIVERY = 7  # DD+7
B2B_TERMS_DAYS = (30, 45)  # Amazon Business invoiced orders


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    order: SimOrder
    items: dict[str, int]  # order item id → units in this shipment
    shipped: datetime
    delivered: datetime
    maturity: datetime  # when the money is released (= shipped when nothing is held)
    reason: str | None  # DD7 or B2B; None: not deferred

    def status(self, now: datetime) -> str:
        if self.reason is None:
            return "RELEASED"
        return "DEFERRED" if now < self.maturity else "DEFERRED_RELEASED"


def shipments_of(order: SimOrder, seed: int, deferred: bool) -> list[Shipment]:
    """The order's shipments: one per package (merchant-fulfilled) or one for Amazon's (FBA)."""
    if order.fulfilled_by == "AMAZON":
        if order.status != "SHIPPED":
            return []
        parts = [("AFN", {l.order_item_id: l.quantity for l in order.lines}, order.afn_shipped or order.updated)]
    else:
        parts = [(p.package_reference_id, p.items, p.created) for p in order.packages.values()]
    found = []
    for reference, items, shipped in parts:
        r = random.Random(f"{seed}:shipment:{order.order_id}:{reference}")
        shipment_id = "".join(r.choices("BCDFGHJKLMNPQRSTVWXYZ0123456789", k=9))
        delivered = shipped + timedelta(days=r.uniform(*DELIVERY_DAYS))
        if not deferred:
            maturity, reason = shipped, None
        elif order.business:
            maturity, reason = shipped + timedelta(days=r.randint(*B2B_TERMS_DAYS)), "B2B"
        else:
            maturity, reason = delivered + timedelta(days=RESERVE_DAYS_AFTER_DELIVERY), "DD7"
        found.append(Shipment(shipment_id, order, dict(items), shipped, delivered, maturity, reason))
    return found


def share(amount: Decimal, before: int, units: int, total: int) -> Decimal:
    """The part of a line's `amount` that `units` more of its `total` units carry, so that the parts add up exactly."""
    return cents(amount * (before + units) / total) - cents(amount * before / total)


def shipped_before(shipment: Shipment, all_of_order: list[Shipment], item_id: str) -> int:
    """Units of an item in the order's shipments before this one."""
    units = 0
    for other in all_of_order:
        if other.shipment_id == shipment.shipment_id:
            return units
        units += other.items.get(item_id, 0)
    return units


def transaction_json(shipment: Shipment, amounts: list[tuple[str, str, Decimal]], info: MarketplaceInfo, seller_id: str,
                     now: datetime, settlement_id: str | None) -> dict[str, Any]:
    """The Finances API transaction of one shipment's proceeds."""
    money = lambda amount: {"currencyCode": info.currency, "currencyAmount": float(cents(amount))}
    related = [{"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": shipment.order.order_id},
               {"relatedIdentifierName": "SHIPMENT_ID", "relatedIdentifierValue": shipment.shipment_id}]
    if settlement_id:
        related.append({"relatedIdentifierName": "SETTLEMENT_ID", "relatedIdentifierValue": settlement_id})
    by_type: dict[str, Decimal] = {}
    for amount_type, _, amount in amounts:
        by_type[amount_type] = by_type.get(amount_type, Decimal(0)) + amount
    shown: dict[str, Any] = {
        "sellingPartnerMetadata": {"sellingPartnerId": seller_id, "accountType": "Standard Orders", "marketplaceId": info.marketplace_id},
        "relatedIdentifiers": related,
        "transactionType": "Shipment",
        "transactionId": f"{shipment.order.order_id}:{shipment.shipment_id}",
        "transactionStatus": shipment.status(now),
        "description": "Order Payment",
        "postedDate": iso(shipment.shipped),
        "totalAmount": money(sum((a for *_, a in amounts), Decimal(0))),
        "marketplaceDetails": {"marketplaceId": info.marketplace_id, "marketplaceName": info.name},
        "breakdowns": [{"breakdownType": k, "breakdownAmount": money(v)} for k, v in by_type.items()],
    }
    if shipment.reason:
        shown["contexts"] = [{"contextType": "DeferredContext", "deferralReason": shipment.reason, "maturityDate": iso(shipment.maturity)}]
    return shown


def in_window(shipment: Shipment, after: datetime, before: datetime) -> bool:
    return after <= shipment.shipped < before


def parse_window(after: str, before: str | None, latest: datetime) -> tuple[datetime, datetime]:
    return parse_iso(after), parse_iso(before) if before else latest
