"""ORDER_CHANGE notifications: the Notifications API (grantless destinations, seller subscriptions)
and delivery to a real SQS API (moto's server, reached with boto3), at least once and not in order."""

import json

import boto3
import httpx
import pytest

from omsync.sandbox.conformance import order_change_validator
from tests.sandbox.test_conformance import check

US = "ATVPDKIKX0DER"


def token(sandbox, **form) -> str:
    answer = httpx.post(f"{sandbox.url}/auth/o2/token", data={"client_id": "c", "client_secret": "s", **form}, trust_env=False)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def client(sandbox, access_token: str) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers={"x-amz-access-token": access_token}, trust_env=False, timeout=30)


@pytest.fixture
def sqs_queue(sandbox):
    where = sandbox.admin("GET", "sqs")
    sqs = boto3.client("sqs", endpoint_url=where["endpoint"], region_name=where["region"], aws_access_key_id="x", aws_secret_access_key="x")
    url = sqs.create_queue(QueueName="omsync-order-change")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield sqs, url, arn
    sqs.delete_queue(QueueUrl=url)


def receive_all(sqs, url) -> list[dict]:
    """Every message in the queue, waiting a second for any the sandbox's clock thread is still sending."""
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            return bodies
        for message in got:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def subscribe(sandbox, arn: str) -> str:
    with client(sandbox, token(sandbox, grant_type="client_credentials", scope="sellingpartnerapi::notifications")) as grantless, \
            client(sandbox, token(sandbox, grant_type="refresh_token", refresh_token="Atzr|r")) as seller:
        body = {"name": "orders", "resourceSpecification": {"sqs": {"arn": arn}}}
        refused = seller.post("/notifications/v1/destinations", json=body)
        assert refused.status_code == 403, "createDestination is grantless: the seller's token does not do"
        destination = check("createDestination", grantless.post("/notifications/v1/destinations", json=body))["payload"]
        assert check("createDestination", grantless.post("/notifications/v1/destinations", json=body))["errors"][0]["code"] == "Conflict"
        bad = check("createDestination", grantless.post("/notifications/v1/destinations", json={"name": "x", "resourceSpecification": {"sqs": {"arn": "queue"}}}))
        assert bad["errors"][0]["code"] == "InvalidInput"
        assert check("getDestinations", grantless.get("/notifications/v1/destinations"))["payload"] == [destination]
        check("getDestination", grantless.get(f"/notifications/v1/destinations/{destination['destinationId']}"))
        check("getDestination", grantless.get("/notifications/v1/destinations/nope"))  # 404
        path = "/notifications/v1/subscriptions/ORDER_CHANGE"
        no_filter = check("createSubscription", seller.post(path, json={"payloadVersion": "1.0", "destinationId": destination["destinationId"]}))
        assert "processingDirective" in no_filter["errors"][0]["message"]
        subscription = check("createSubscription", seller.post(path, json={
            "payloadVersion": "1.0", "destinationId": destination["destinationId"],
            "processingDirective": {"eventFilter": {"eventFilterType": "ORDER_CHANGE", "marketplaceIds": [US]}}}))["payload"]
        assert check("getSubscription", seller.get(path))["payload"]["subscriptionId"] == subscription["subscriptionId"]
        check("getSubscriptionById", seller.get(f"{path}/{subscription['subscriptionId']}"))
        check("getSubscriptionById", grantless.get(f"{path}/{subscription['subscriptionId']}"))
        in_use = check("deleteDestination", grantless.delete(f"/notifications/v1/destinations/{destination['destinationId']}"))
        assert in_use["errors"][0]["code"] == "InvalidInput"
        return subscription["subscriptionId"]


def test_order_changes_reach_the_sqs_queue_as_amazon_sends_them(sandbox, sqs_queue):
    sqs, url, arn = sqs_queue
    subscription_id = subscribe(sandbox, arn)
    sandbox.admin("POST", "realism", {"settings": {"buyer_cancel_request_share": 0.5, "notification_duplicate_share": 0.3,
                                                   "notification_late_share": 0.3}})
    sandbox.admin("POST", "listings", {"listings": [{"sku": f"N-{i}", "productType": "HOME", "quantity": 90, "price": "10.00"} for i in range(4)]})
    placed = sandbox.admin("POST", "orders", {"count": 30, "release": True})["orderIds"]
    sandbox.admin("POST", "clock/advance", {"days": 2})
    merchant = next(o for o in sandbox.admin("GET", "orders")["orders"] if o["fulfilledBy"] == "MERCHANT" and o["status"] == "UNSHIPPED" and not o["cancelRequested"])
    with client(sandbox, token(sandbox, grant_type="refresh_token", refresh_token="Atzr|r")) as seller:
        items = [{"orderItemId": line["order_item_id"], "quantity": line["quantity"]} for line in merchant["lines"]]
        body = {"marketplaceId": US, "packageDetail": {"packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z9",
                "shipDate": "2020-01-01T00:00:00Z", "orderItems": items}}
        assert seller.post(f"/orders/v0/orders/{merchant['orderId']}/shipmentConfirmation", json=body).status_code == 204
    sandbox.admin("POST", "clock/advance", {"seconds": 3 * 3600})
    bodies = receive_all(sqs, url)
    for body in bodies:
        assert list(order_change_validator().iter_errors(body)) == [], body
        assert body["NotificationMetadata"]["SubscriptionId"] == subscription_id
    changes = [b["Payload"]["OrderChangeNotification"] for b in bodies]
    seen = {(c["AmazonOrderId"], c["Summary"]["OrderStatus"]) for c in changes}
    assert {(i, "Pending") for i in placed} <= seen, "every new order is notified"
    assert (merchant["orderId"], "Shipped") in seen
    assert any(c["OrderChangeType"] == "BuyerRequestedChange" and c["Summary"]["OrderItems"][0]["IsBuyerRequestedCancel"] for c in changes)
    ids = [b["NotificationMetadata"]["NotificationId"] for b in bodies]
    assert len(ids) > len(set(ids)), "some notifications come twice"
    published = [p["notificationId"] for p in sandbox.admin("GET", "notifications")["published"]]
    assert set(ids) == set(published) and ids != sorted(set(ids), key=published.index), "and not in the order they were published"


def test_a_grantless_token_needs_the_notifications_scope_and_opens_no_seller_operation(sandbox):
    refused = httpx.post(f"{sandbox.url}/auth/o2/token", data={"grant_type": "client_credentials", "client_id": "c", "client_secret": "s",
                                                               "scope": "sellingpartnerapi::migration"}, trust_env=False)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    with client(sandbox, token(sandbox, grant_type="client_credentials", scope="sellingpartnerapi::notifications")) as grantless:
        assert grantless.get("/orders/2026-01-01/orders", params={"createdAfter": "2020-01-01T00:00:00Z"}).status_code == 403
