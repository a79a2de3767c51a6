"""Notifications API v1: the SQS destination and the ORDER_CHANGE subscription that sends order changes to it.

Destinations are grantless (an LWA client_credentials token with the notifications scope, which the
library fetches through the same LWA endpoint); subscriptions take the seller's token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from sp_api.auth import access_token_client
from sp_api.auth.exceptions import AuthorizationError

from omsync.connectors.amazon.transport import AmazonRejected, AmazonTransport
from omsync.core.errors import UserError

T = TypeVar("T")
ORDER_CHANGE = "ORDER_CHANGE"
ORDER_CHANGE_PAYLOAD_VERSION = "1.0"  # the only version of OrderChangeNotification.json
DESTINATION_NAME = "omsync-order-change"
# SqsResource.arn in notifications.json (pattern, maxLength 1000); checked before any call, so a typo
# is named as such rather than as a conflict with the queue ORDER_CHANGE already goes to.
SQS_ARN = re.compile(r"^arn:aws:sqs:\S+:\S+:\S+")

@dataclass(frozen=True)
class Destination:
    destination_id: str
    name: str
    arn: str  # the SQS queue's ARN, or "eventBridge:<account>:<region>" for an EventBridge destination


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    notification_type: str
    payload_version: str
    destination_id: str


@dataclass(frozen=True)
class NotificationSetup:
    """What the account has: every destination of the application, the ORDER_CHANGE subscription, and
    what this call created (nothing when everything already existed)."""

    destinations: tuple[Destination, ...]
    subscription: Subscription | None
    created: tuple[str, ...] = ()


def _destination(raw: dict[str, Any]) -> Destination:
    resource = raw.get("resource") or {}
    if "sqs" in resource:
        where = resource["sqs"]["arn"]
    else:
        bridge = resource.get("eventBridge") or {}
        where = f"eventBridge:{bridge.get('accountId', '?')}:{bridge.get('region', '?')}"
    return Destination(raw["destinationId"], raw.get("name", ""), where)


class NotificationsApi:
    def __init__(self, transport: AmazonTransport) -> None:
        self.transport = transport

    def _invoke(self, operation: str, call: Callable[[Any], T], grantless: bool = False) -> T:
        t = self.transport
        client = t.client("notifications")
        try:
            try:
                return t.invoke(operation, lambda: call(client))
            except AmazonRejected as exc:
                if not (grantless and exc.status == 403 and exc.code == "Unauthorized"):
                    raise
                # The library keeps grantless tokens in a cache of their own (grantless_cache), which the
                # transport's retry on 403 does not empty: a token another endpoint issued, or one Amazon
                # revoked, would fail every grantless call for 53 minutes. One fresh token, one more try.
                access_token_client.grantless_cache.clear()
                return t.invoke(operation, lambda: call(client))
        except AuthorizationError as exc:
            # The library fetches tokens outside any SP-API answer and raises its own error, not a
            # SellingApiException; its message is LWA's error_description, never the credentials.
            raise AmazonRejected(operation, exc.status_code, f"LWA {exc.error_code}",
                                 f"{exc.message or 'Login with Amazon refused'}; check LWA_APP_ID, LWA_CLIENT_SECRET "
                                 "and SP_API_REFRESH_TOKEN", None) from None

    def destinations(self) -> list[Destination]:
        payload = self._invoke("getDestinations", lambda c: c.get_destinations(), grantless=True).payload
        return [_destination(raw) for raw in payload or []]

    def order_change_subscription(self) -> Subscription | None:
        try:
            payload = self._invoke("getSubscription", lambda c: c.get_subscription(
                ORDER_CHANGE, payloadVersion=ORDER_CHANGE_PAYLOAD_VERSION)).payload
        except AmazonRejected as exc:
            if exc.status == 404:  # Amazon's answer when there is no subscription yet
                return None
            raise
        return Subscription(payload["subscriptionId"], ORDER_CHANGE, payload["payloadVersion"], payload["destinationId"])

    def show(self) -> NotificationSetup:
        return NotificationSetup(tuple(self.destinations()), self.order_change_subscription())

    def subscribe_order_change(self, queue_arn: str) -> NotificationSetup:
        """Make sure ORDER_CHANGE goes to the SQS queue `queue_arn`: reuse the destination and the
        subscription that exist, create only what is missing. Refuses (creating nothing) when ORDER_CHANGE
        already goes elsewhere: Amazon keeps one subscription per type, and moving it is a person's decision."""
        if not SQS_ARN.match(queue_arn) or len(queue_arn) > 1000:
            raise UserError(f"{queue_arn!r} is not an SQS queue ARN: arn:aws:sqs:<region>:<account>:<queue name>, "
                            "as the queue's details in the AWS console show it")
        if queue_arn.endswith(".fifo"):
            # Amazon accepts a FIFO queue as a destination but delivers nothing to it (selling-partner-api-docs#845).
            raise UserError(f"{queue_arn} is a FIFO queue, which never receives notifications: give a standard SQS queue")
        destinations = self.destinations()
        subscription = self.order_change_subscription()
        if subscription is not None:
            current = next((d for d in destinations if d.destination_id == subscription.destination_id), None)
            if current is None or current.arn != queue_arn:
                raise UserError(f"ORDER_CHANGE already goes to {current.arn if current else 'destination ' + subscription.destination_id}"
                                f" (subscription {subscription.subscription_id}); delete that subscription first to send it to {queue_arn}")
        created: list[str] = []
        destination = next((d for d in destinations if d.arn == queue_arn), None)
        if destination is None:
            raw = self._invoke("createDestination", lambda c: c.create_destination(DESTINATION_NAME, arn=queue_arn), grantless=True).payload
            destination = _destination(raw)
            destinations.append(destination)
            created.append(f"destination {destination.destination_id}")
        if subscription is None:
            # Without a processingDirective Amazon has answered 400 for ORDER_CHANGE (abuzuhri/Amazon-SP-API-CSharp#621);
            # the filter names the type only, so every marketplace and change type is sent. The library
            # takes the version as payload_version: a payloadVersion keyword would be overwritten by its default.
            raw = self._invoke("createSubscription", lambda c: c.create_subscription(
                ORDER_CHANGE, destination.destination_id, payload_version=ORDER_CHANGE_PAYLOAD_VERSION,
                processingDirective={"eventFilter": {"eventFilterType": ORDER_CHANGE}})).payload
            subscription = Subscription(raw["subscriptionId"], ORDER_CHANGE, raw["payloadVersion"], raw["destinationId"])
            created.append(f"subscription {subscription.subscription_id}")
        return NotificationSetup(tuple(destinations), subscription, tuple(created))
