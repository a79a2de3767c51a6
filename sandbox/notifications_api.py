"""The Notifications API v1 over HTTP: SQS destinations (grantless operations: an LWA
client_credentials token with the notifications scope) and ORDER_CHANGE subscriptions (the seller's token)."""

from __future__ import annotations

import uuid
from typing import Any, Callable

from starlette.routing import Route

from omsync.sandbox.notifications import ARN, ORDER_CHANGE, Destination, Subscription

EVENT_FILTER_TYPES = ("ORDER_CHANGE", "ANY_OFFER_CHANGED", "SHIPMENT_TRACKING_MILESTONE_CHANGED")


class NotificationsApi:
    def __init__(self, market, api_error: type[Exception]) -> None:
        self.market, self.ApiError = market, api_error

    def routes(self, op: Callable[..., Callable]) -> list[Route]:
        base = "/notifications/v1"
        return [
            Route(f"{base}/destinations", op("createDestination", self.create_destination, grant="grantless"), methods=["POST"]),
            Route(f"{base}/destinations", op("getDestinations", self.get_destinations, grant="grantless"), methods=["GET"]),
            Route(f"{base}/destinations/{{destinationId}}", op("getDestination", self.get_destination, grant="grantless"), methods=["GET"]),
            Route(f"{base}/destinations/{{destinationId}}", op("deleteDestination", self.delete_destination, grant="grantless"), methods=["DELETE"]),
            Route(f"{base}/subscriptions/{{notificationType}}", op("createSubscription", self.create_subscription), methods=["POST"]),
            Route(f"{base}/subscriptions/{{notificationType}}", op("getSubscription", self.get_subscription), methods=["GET"]),
            # Amazon calls these grantless; python-amazon-sp-api sends the seller's token, which works too
            Route(f"{base}/subscriptions/{{notificationType}}/{{subscriptionId}}", op("getSubscriptionById", self.get_subscription_by_id, grant="either"), methods=["GET"]),
            Route(f"{base}/subscriptions/{{notificationType}}/{{subscriptionId}}", op("deleteSubscriptionById", self.delete_subscription_by_id, grant="either"), methods=["DELETE"]),
        ]

    @property
    def book(self):
        return self.market.state.notifications

    def _new_id(self, kind: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"omsync-sandbox:{self.market.state.seed}:{kind}:{self.market.new_id('submission')}"))

    # --- destinations ----------------------------------------------------------------------

    def create_destination(self, params, query, body) -> tuple[int, Any]:
        resource = body.get("resourceSpecification") or {}
        if "eventBridge" in resource:
            raise self.ApiError(400, "InvalidInput", "The sandbox delivers to SQS queues only: give resourceSpecification.sqs.arn.")
        arn = (resource.get("sqs") or {}).get("arn", "")
        if not ARN.match(arn):
            raise self.ApiError(400, "InvalidInput", f"resourceSpecification.sqs.arn {arn!r} is not an SQS queue ARN (arn:aws:sqs:region:account:name).")
        if arn.endswith(".fifo"):
            raise self.ApiError(400, "InvalidInput", "Notifications are delivered to standard SQS queues only, not FIFO queues.")
        if any(d.arn == arn for d in self.book.destinations.values()):
            raise self.ApiError(409, "Conflict", f"A destination for {arn} already exists.")
        destination = Destination(self._new_id("destination"), body["name"], arn)
        self.book.destinations[destination.destination_id] = destination
        return 200, {"payload": destination.as_json()}

    def get_destinations(self, params, query, body) -> tuple[int, Any]:
        return 200, {"payload": [d.as_json() for d in self.book.destinations.values()]}

    def _destination(self, destination_id: str) -> Destination:
        destination = self.book.destinations.get(destination_id)
        if destination is None:
            raise self.ApiError(404, "NotFound", f"Destination {destination_id} was not found.")
        return destination

    def get_destination(self, params, query, body) -> tuple[int, Any]:
        return 200, {"payload": self._destination(params["destinationId"]).as_json()}

    def delete_destination(self, params, query, body) -> tuple[int, Any]:
        destination = self._destination(params["destinationId"])
        if any(s.destination_id == destination.destination_id for s in self.book.subscriptions.values()):
            raise self.ApiError(400, "InvalidInput", "A subscription still delivers to this destination: delete the subscription first.")
        del self.book.destinations[destination.destination_id]
        return 200, {}

    # --- subscriptions ---------------------------------------------------------------------

    def _served(self, notification_type: str) -> None:
        if notification_type != ORDER_CHANGE:
            raise self.ApiError(400, "InvalidInput", f"The sandbox sends {ORDER_CHANGE} notifications only, not {notification_type}.")

    def create_subscription(self, params, query, body) -> tuple[int, Any]:
        kind = params["notificationType"]
        self._served(kind)
        if body.get("payloadVersion") != "1.0":
            raise self.ApiError(400, "InvalidInput", f"payloadVersion {body.get('payloadVersion')!r} is not a version of {kind}: use 1.0.")
        if body["destinationId"] not in self.book.destinations:
            raise self.ApiError(400, "InvalidInput", f"Destination {body['destinationId']} does not exist.")
        directive = body.get("processingDirective") or {}
        event_filter = directive.get("eventFilter")
        if not event_filter:
            raise self.ApiError(400, "InvalidInput", f"A {kind} subscription needs a processingDirective with an eventFilter.")
        if event_filter.get("eventFilterType") != kind:
            raise self.ApiError(400, "InvalidInput", f"eventFilter.eventFilterType must be {kind}, not {event_filter.get('eventFilterType')!r}.")
        if self.book.subscription_for(kind):
            raise self.ApiError(409, "Conflict", f"A subscription to {kind} already exists for this application and seller.")
        subscription = Subscription(self._new_id("subscription"), kind, "1.0", body["destinationId"], directive)
        self.book.subscriptions[subscription.subscription_id] = subscription
        return 200, {"payload": subscription.as_json()}

    def get_subscription(self, params, query, body) -> tuple[int, Any]:
        self._served(params["notificationType"])
        subscription = self.book.subscription_for(params["notificationType"])
        if subscription is None:
            raise self.ApiError(404, "NotFound", f"There is no subscription to {params['notificationType']}.")
        return 200, {"payload": subscription.as_json()}

    def _subscription(self, params) -> Subscription:
        subscription = self.book.subscriptions.get(params["subscriptionId"])
        if subscription is None or subscription.notification_type != params["notificationType"]:
            raise self.ApiError(404, "NotFound", f"Subscription {params['subscriptionId']} was not found.")
        return subscription

    def get_subscription_by_id(self, params, query, body) -> tuple[int, Any]:
        return 200, {"payload": self._subscription(params).as_json()}

    def delete_subscription_by_id(self, params, query, body) -> tuple[int, Any]:
        del self.book.subscriptions[self._subscription(params).subscription_id]
        return 200, {}
