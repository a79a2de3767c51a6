"""Simulated buyers and orders: placement, the PENDING → UNSHIPPED → SHIPPED life cycle,
cancellations, ship confirmations, and the Orders API 2026-01-01 representation."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from omsync.sandbox.clock import iso, parse_iso
from omsync.sandbox.marketplaces import MarketplaceInfo
from omsync.sandbox.om_demo_data import CITIES, FIRST_NAMES, LAST_NAMES, STREETS

CENT = Decimal("0.01")
CARRIERS = {"USPS", "UPS", "FedEx", "DHL", "Amazon Shipping", "OnTrac", "Other"}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Buyer:
    name: str
    email: str
    address1: str
    address2: str | None
    city: str
    region: str
    postal_code: str
    country: str
    phone: str


def make_buyer(seed: int, number: int, country: str) -> Buyer:
    """Buyer `number` of this seed: a stable relay e-mail, as Amazon gives per buyer and seller."""
    r = random.Random(f"{seed}:buyer:{number}")
    city, region, zip3 = r.choice(CITIES)
    relay = "".join(r.choices(string.ascii_lowercase + string.digits, k=15))
    return Buyer(
        name=f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}",
        email=f"{relay}@marketplace.amazon.com",
        address1=f"{r.randint(100, 9999)} {r.choice(STREETS)}",
        address2=f"Apt {r.randint(1, 40)}" if r.random() < 0.15 else None,
        city=city,
        region=region,
        postal_code=f"{zip3}{r.randint(0, 99):02d}",
        country=country,
        phone=f"+1-555-{r.randint(0, 9_999_999):07d}",
    )


@dataclass
class OrderLine:
    order_item_id: str
    sku: str
    asin: str
    title: str
    quantity: int
    unit_price: Decimal
    shipping: Decimal
    tax: Decimal
    shipping_tax: Decimal
    discount: Decimal  # positive: what the promotion took off
    shipped: int = 0
    cancelled: bool = False  # the seller cancelled this item (order acknowledgement feed)
    cancel_reason: str | None = None


@dataclass
class Package:
    package_reference_id: str
    carrier: str
    carrier_name: str | None
    shipping_method: str | None
    tracking_number: str
    ship_date: str
    items: dict[str, int]
    created: datetime
    shipped_by: str = "CONFIRM_SHIPMENT"  # or BUY_SHIPPING: the seller bought the label in Seller Central
    late: bool = False  # shipped after the order's latest ship date


@dataclass
class SimOrder:
    order_id: str
    number: int
    created: datetime
    updated: datetime
    fulfilled_by: str  # MERCHANT | AMAZON
    status: str
    buyer: Buyer | None
    lines: list[OrderLine]
    due: float  # simulated second of the next life-cycle step
    cancel_before_release: bool = False
    cancel_after_release: bool = False
    packages: dict[str, Package] = field(default_factory=dict)
    settled_in: str | None = None
    refunded_in: str | None = None
    refund_requested: str | None = None  # admin: the refund kind the next settlement books
    next_step: str | None = None  # the life-cycle event `due` is for (None: the SIMPLE status steps)
    wants_cancel: bool = False  # the buyer will ask to cancel once the order is unshipped
    outside: bool = False  # the seller will ship it in Seller Central (Buy Shipping), not through the OM
    split: bool = False  # … in two packages
    cancel_requested: datetime | None = None  # when the buyer asked to cancel (the seller must act)
    cancel_request_reason: str | None = None
    cancelled_by: str | None = None  # BUYER, MERCHANT or AMAZON
    cancel_reason: str | None = None
    business: bool = False  # an Amazon Business buyer on invoice terms
    marketplace_id: str | None = None  # where the buyer ordered (None: the account's primary marketplace)
    afn_shipped: datetime | None = None  # when Amazon shipped an FBA order

    @property
    def latest_ship(self) -> datetime:
        """The end of the ship-by window: a package shipped later is late."""
        return self.created + timedelta(days=3)

    @property
    def is_pending(self) -> bool:
        return self.status == "PENDING"

    def totals(self) -> dict[str, Decimal]:
        return {
            "ITEM": sum((l.unit_price * l.quantity for l in self.lines), Decimal(0)),
            "SHIPPING": sum((l.shipping for l in self.lines), Decimal(0)),
            "TAX": sum((l.tax + l.shipping_tax for l in self.lines), Decimal(0)),
            "DISCOUNT": -sum((l.discount for l in self.lines), Decimal(0)),
        }


def order_id_for(seed: int, number: int) -> str:
    r = random.Random(f"{seed}:order-id:{number}")
    return f"{r.randint(111, 114)}-{r.randint(0, 9_999_999):07d}-{r.randint(0, 9_999_999):07d}"


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": _amount_text(amount), "currencyCode": currency}


@lru_cache(maxsize=65_536)
def _amount_text(amount: Decimal) -> str:
    """Rendering an order formats ~20 amounts, and a shop's prices, taxes and totals repeat."""
    return f"{cents(amount):.2f}"


def order_json(order: SimOrder, info: MarketplaceInfo, included: set[str]) -> dict[str, Any]:
    """The order as Orders API 2026-01-01 shows it; PENDING orders have no prices and no buyer data yet."""
    currency = info.currency
    shown: dict[str, Any] = {
        "orderId": order.order_id,
        "createdTime": iso(order.created),
        "lastUpdatedTime": iso(order.updated),
        "programs": (["PRIME"] if order.number % 3 == 0 else []) + (["AMAZON_BUSINESS"] if order.business else []),
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": info.marketplace_id, "marketplaceName": info.name},
    }
    released = not order.is_pending
    if "BUYER" in included and released and order.buyer:
        buyer = {"buyerName": order.buyer.name}
        if order.fulfilled_by == "MERCHANT":
            buyer["buyerEmail"] = order.buyer.email
        shown["buyer"] = buyer
    if "RECIPIENT" in included and released and order.buyer and order.fulfilled_by == "MERCHANT":
        b = order.buyer
        address = {"name": b.name, "addressLine1": b.address1, "city": b.city, "stateOrRegion": b.region,
                   "postalCode": b.postal_code, "countryCode": b.country, "phone": b.phone, "addressType": "RESIDENTIAL"}
        if b.address2:
            address["addressLine2"] = b.address2
        shown["recipient"] = {"deliveryAddress": address}
    if "PROCEEDS" in included and released:
        totals = order.totals()
        shown["proceeds"] = {
            "grandTotal": money(sum(totals.values(), Decimal(0)), currency),
            "breakdowns": [{"type": k, "subtotal": money(v, currency)} for k, v in totals.items() if v or k == "ITEM"],
        }
    if "FULFILLMENT" in included:
        window_start = order.created + timedelta(days=1)
        shown["fulfillment"] = {
            "fulfillmentStatus": order.status,
            "fulfilledBy": order.fulfilled_by,
            "fulfillmentServiceLevel": "STANDARD",
            "shipByWindow": {"earliestDateTime": iso(window_start), "latestDateTime": iso(order.latest_ship)},
        }
    shown["orderItems"] = [_item_json(order, line, currency, included, released) for line in order.lines]
    if "PACKAGES" in included and order.fulfilled_by == "MERCHANT" and order.packages:
        shown["packages"] = [
            {
                "packageReferenceId": p.package_reference_id,
                "createdTime": iso(p.created),
                "packageStatus": {"status": "SHIPPED"},
                "carrier": p.carrier_name or p.carrier,
                "shipTime": p.ship_date,
                **({"shippingService": p.shipping_method} if p.shipping_method else {}),
                "trackingNumber": p.tracking_number,
                "packageItems": [{"orderItemId": k, "quantity": v} for k, v in p.items.items()],
            }
            for p in order.packages.values()
        ]
    return shown


def _item_json(order: SimOrder, line: OrderLine, currency: str, included: set[str], released: bool) -> dict[str, Any]:
    product: dict[str, Any] = {"asin": line.asin, "title": line.title, "sellerSku": line.sku}
    item: dict[str, Any] = {"orderItemId": line.order_item_id, "quantityOrdered": line.quantity, "product": product}
    if released:
        product["price"] = {"unitPrice": money(line.unit_price, currency)}
    if "PROCEEDS" in included and released:
        subtotal = line.unit_price * line.quantity
        breakdowns = [{"type": "ITEM", "subtotal": money(subtotal, currency)}]
        if line.shipping:
            breakdowns.append({"type": "SHIPPING", "subtotal": money(line.shipping, currency)})
        breakdowns.append(
            {
                "type": "TAX",
                "subtotal": money(line.tax + line.shipping_tax, currency),
                "detailedBreakdowns": [
                    {"subtype": "ITEM", "value": money(line.tax, currency)},
                    {"subtype": "SHIPPING", "value": money(line.shipping_tax, currency)},
                ],
            }
        )
        if line.discount:
            breakdowns.append({"type": "DISCOUNT", "subtotal": money(-line.discount, currency)})
        total = subtotal + line.shipping + line.tax + line.shipping_tax - line.discount
        item["proceeds"] = {"proceedsTotal": money(total, currency), "breakdowns": breakdowns}
    if "FULFILLMENT" in included:
        item["fulfillment"] = {"quantityFulfilled": line.shipped, "quantityUnfulfilled": line.quantity - line.shipped}
    if "CANCELLATION" in included:
        cancellation = {}
        if order.cancel_requested or (order.status == "CANCELLED" and order.cancelled_by in (None, "BUYER")):
            cancellation["cancellationRequest"] = {"requester": "BUYER", "cancelReason": order.cancel_request_reason or "Order placed by mistake"}
        if line.cancelled or order.status == "CANCELLED":
            cancellation["cancellationExecution"] = {"cancelledBy": order.cancelled_by or "BUYER",
                                                     "cancelReason": line.cancel_reason or order.cancel_reason or "Order placed by mistake"}
        if cancellation:
            item["cancellation"] = cancellation
    return item


class ConfirmationRefused(ValueError):
    """confirmShipment input that Amazon answers with 400 InvalidInput."""


def confirm_shipment(order: SimOrder, info: MarketplaceInfo, body: dict, now: datetime, check_dates: bool = False,
                     after_purchase: bool = False) -> None:
    """Record one package (a repeated packageReferenceId edits it) and move the order's status.
    `check_dates`: refuse a ship date in the future; `after_purchase`: also one before the order was placed."""
    if body.get("marketplaceId") != info.marketplace_id:
        raise ConfirmationRefused(f"marketplaceId {body.get('marketplaceId')!r} is not the order's marketplace {info.marketplace_id}")
    if order.fulfilled_by != "MERCHANT":
        raise ConfirmationRefused("The order is fulfilled by Amazon; only merchant-fulfilled orders can be confirmed.")
    if order.status in ("PENDING", "CANCELLED"):
        raise ConfirmationRefused(f"The order is {order.status} and cannot be confirmed.")
    if order.status == "SHIPPED" and any(p.shipped_by == "BUY_SHIPPING" for p in order.packages.values()):
        raise ConfirmationRefused("The order has already been shipped with Buy Shipping, which confirmed it; do not confirm it again.")
    detail = body["packageDetail"]
    if check_dates:
        shipped_at = parse_iso(detail["shipDate"])
        if shipped_at > now + timedelta(hours=1):
            raise ConfirmationRefused(f"ShipDate {detail['shipDate']} is in the future.")
        if after_purchase and shipped_at < order.created:
            raise ConfirmationRefused(f"ShipDate {detail['shipDate']} is before the order was placed ({iso(order.created)}).")
    reference = str(detail["packageReferenceId"])
    if not reference.isdigit() or int(reference) <= 0:
        raise ConfirmationRefused("PackageReferenceId: is invalid, must be a positive numeric value.")
    if detail["carrierCode"] == "Other" and not detail.get("carrierName"):
        raise ConfirmationRefused("CarrierName is required when CarrierCode is Other.")
    if detail["carrierCode"] not in CARRIERS:
        raise ConfirmationRefused(f"CarrierCode {detail['carrierCode']!r} is not a valid carrier code; use Other with a carrierName.")
    lines = {l.order_item_id: l for l in order.lines}
    items: dict[str, int] = {}
    for entry in detail["orderItems"]:
        item_id, quantity = str(entry["orderItemId"]), int(entry["quantity"])
        if item_id not in lines:
            raise ConfirmationRefused(f"OrderItemId {item_id} is not part of order {order.order_id}.")
        if quantity <= 0:
            raise ConfirmationRefused(f"Quantity for OrderItemId {item_id} must be positive.")
        if lines[item_id].cancelled:
            raise ConfirmationRefused(f"OrderItemId {item_id} was cancelled and cannot be shipped.")
        items[item_id] = items.get(item_id, 0) + quantity
    others = [p for ref, p in order.packages.items() if ref != reference]
    for item_id, quantity in items.items():
        already = sum(p.items.get(item_id, 0) for p in others)
        if already + quantity > lines[item_id].quantity:
            raise ConfirmationRefused(
                f"Quantity {quantity} for OrderItemId {item_id} exceeds the {lines[item_id].quantity - already} not yet shipped."
            )
    previous = order.packages.get(reference)
    order.packages[reference] = Package(
        package_reference_id=reference,
        carrier=detail["carrierCode"],
        carrier_name=detail.get("carrierName"),
        shipping_method=detail.get("shippingMethod"),
        tracking_number=detail["trackingNumber"],
        ship_date=detail["shipDate"],
        items=items,
        created=previous.created if previous else now,
        late=now > order.latest_ship,
    )
    settle_shipment(order, now)


def settle_shipment(order: SimOrder, now: datetime) -> None:
    """The order's status after a package: SHIPPED once every item not cancelled has gone."""
    for line in order.lines:
        line.shipped = sum(p.items.get(line.order_item_id, 0) for p in order.packages.values())
    open_lines = [l for l in order.lines if not l.cancelled]
    order.status = "SHIPPED" if all(l.shipped == l.quantity for l in open_lines) else "PARTIALLY_SHIPPED"
    order.updated = now
