"""The Notifications API's destinations and subscriptions, and ORDER_CHANGE notifications as Amazon
sends them to an SQS queue: one per order change, at least once and not in order."""

from __future__ import annotations

import heapq
import json
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from omsync.sandbox.clock import iso
from omsync.sandbox.orders import SimOrder

ARN = re.compile(r"^arn:aws:sqs:\S+:\S+:\S+$")
APPLICATION_ID = "amzn1.sellerapps.app.omsync-sandbox"
ORDER_CHANGE = "ORDER_CHANGE"
V0_STATUS = {"PENDING": "Pending", "UNSHIPPED": "Unshipped", "PARTIALLY_SHIPPED": "PartiallyShipped", "SHIPPED": "Shipped",
             "CANCELLED": "Canceled"}


@dataclass
class Destination:
    destination_id: str
    name: str
    arn: str

    def as_json(self) -> dict[str, Any]:
        return {"destinationId": self.destination_id, "name": self.name, "resource": {"sqs": {"arn": self.arn}}}


@dataclass
class Subscription:
    subscription_id: str
    notification_type: str
    payload_version: str
    destination_id: str
    directive: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"subscriptionId": self.subscription_id, "payloadVersion": self.payload_version,
                "destinationId": self.destination_id, "processingDirective": self.directive}

    def wants(self, marketplace_id: str, change_type: str) -> bool:
        """The eventFilter's lists narrow what is sent; an omitted list means all."""
        event_filter = self.directive.get("eventFilter") or {}
        markets, kinds = event_filter.get("marketplaceIds"), event_filter.get("orderChangeTypes")
        return (not markets or marketplace_id in markets) and (not kinds or change_type in kinds)


@dataclass
class Notifications:
    """What --state keeps of notifications: destinations, subscriptions, and the outbox (due, seq, ARN, body)."""

    destinations: dict[str, Destination] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    outbox: list[tuple[float, int, str, str]] = field(default_factory=list)
    sent: int = 0
    published: list[dict[str, Any]] = field(default_factory=list)  # ground truth: every notification and its deliveries
    notified: dict[str, tuple] = field(default_factory=dict)  # order id → the signature last notified

    def subscription_for(self, notification_type: str) -> Subscription | None:
        return next((s for s in self.subscriptions.values() if s.notification_type == notification_type), None)


def signature(order: SimOrder) -> tuple:
    """What an ORDER_CHANGE is sent for: the status, items shipped and a buyer's cancel request."""
    return order.status, sum(l.shipped for l in order.lines), order.cancel_requested is not None, sum(l.cancelled for l in order.lines)


def change_of(order: SimOrder, before: tuple | None) -> tuple[str, str]:
    """(OrderChangeType, ChangeReason) of the change from `before` to now."""
    if order.cancel_requested is not None and (before is None or not before[2]):
        return "BuyerRequestedChange", "Buyer Requested Cancel"
    if before is None and order.status == "PENDING":
        return "OrderStatusChange", "New order"
    return "OrderStatusChange", f"Order status changed to {V0_STATUS[order.status]}"


def order_change_body(order: SimOrder, seller_id: str, marketplace_id: str, subscription_id: str, change: tuple[str, str],
                      now: datetime, notification_id: str) -> dict[str, Any]:
    """One ORDER_CHANGE notification as Amazon puts it in the queue's message Body (OrderChangeNotification.json)."""
    shipped = sum(l.shipped for l in order.lines)
    items = []
    for line in order.lines:
        item: dict[str, Any] = {"OrderItemId": line.order_item_id, "SellerSKU": line.sku, "SupplySourceId": None,
                                "Quantity": line.quantity, "QuantityShipped": line.shipped,
                                "IsBuyerRequestedCancel": order.cancel_requested is not None}
        if order.status == "PARTIALLY_SHIPPED":
            item["OrderItemStatus"] = "Shipped" if line.shipped == line.quantity else "Unshipped"
        items.append(item)
    summary: dict[str, Any] = {
        "MarketplaceId": marketplace_id, "OrderStatus": V0_STATUS[order.status], "PurchaseDate": iso(order.created),
        "DestinationPostalCode": order.buyer.postal_code if order.buyer and order.fulfilled_by == "MERCHANT" else None,
        "FulfillmentType": "MFN" if order.fulfilled_by == "MERCHANT" else "AFN", "OrderType": "StandardOrder",
        "NumberOfItemsShipped": shipped, "NumberOfItemsUnshipped": sum(l.quantity for l in order.lines) - shipped,
        "LatestShipDate": iso(order.latest_ship), "OrderPrograms": ["Prime"] if order.number % 3 == 0 else [],
        "OrderItems": items,
    }
    return {
        "NotificationVersion": "1.0", "NotificationType": ORDER_CHANGE, "PayloadVersion": "1.0", "EventTime": iso(now),
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel", "SellerId": seller_id, "AmazonOrderId": order.order_id,
            "OrderChangeType": change[0], "OrderChangeTrigger": {"TimeOfOrderChange": iso(order.updated), "ChangeReason": change[1]},
            "Summary": summary}},
        "NotificationMetadata": {"ApplicationId": APPLICATION_ID, "SubscriptionId": subscription_id, "PublishTime": iso(now),
                                 "NotificationId": notification_id},
    }


def publish(book: Notifications, orders: list[SimOrder], seller_id: str, marketplace_of: Callable[[SimOrder], str], now: datetime,
            elapsed: float, seed: int, duplicate_share: float, late_share: float) -> None:
    """Queue an ORDER_CHANGE for each of `orders` that changed since it was last notified. Each is
    delivered after a few simulated seconds; a `late_share` after many minutes (so later changes
    overtake it) and a `duplicate_share` twice, as Amazon does not promise order or exactly once."""
    subscription = book.subscription_for(ORDER_CHANGE)
    if subscription is None or subscription.destination_id not in book.destinations:
        return
    arn = book.destinations[subscription.destination_id].arn
    for order in orders:
        before, now_signature = book.notified.get(order.order_id), signature(order)
        if before == now_signature:
            continue
        book.notified[order.order_id] = now_signature
        change, marketplace_id = change_of(order, before), marketplace_of(order)
        if not subscription.wants(marketplace_id, change[0]):
            continue
        book.sent += 1
        r = random.Random(f"{seed}:notification:{book.sent}")
        notification_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"omsync-sandbox:{seed}:notification:{book.sent}"))
        body = json.dumps(order_change_body(order, seller_id, marketplace_id, subscription.subscription_id, change, now, notification_id))
        delays = [r.uniform(300, 3600) if r.random() < late_share else r.uniform(1, 30)]
        if r.random() < duplicate_share:
            delays.append(delays[0] + r.uniform(5, 600))
        for copy, delay in enumerate(delays):
            heapq.heappush(book.outbox, (elapsed + delay, book.sent * 2 + copy, arn, body))
        book.published.append({"notificationId": notification_id, "orderId": order.order_id, "changeType": change[0],
                               "orderStatus": V0_STATUS[order.status], "publishedAt": iso(now), "deliveries": len(delays)})


def due_messages(book: Notifications, elapsed: float) -> list[tuple[float, int, str, str]]:
    due = []
    while book.outbox and book.outbox[0][0] <= elapsed:
        due.append(heapq.heappop(book.outbox))
    return due
