"""The ORDER_CHANGE subscription through python-amazon-sp-api's Notifications client, against the
sandbox over HTTP: grantless destinations, the seller's subscription, idempotent and paced."""

import boto3
import pytest
from sp_api.auth import access_token_client

from omsync.connectors.amazon import AmazonConnector
from omsync.connectors.amazon.notifications import ORDER_CHANGE
from omsync.core.errors import UserError
from tests.connectors.test_amazon import FAST_RETRIES
from tests.sandbox.test_notifications import client, token


@pytest.fixture
def amazon(sandbox):
    with AmazonConnector(sandbox.settings(), retry=FAST_RETRIES, seed=3) as connector:
        yield connector


@pytest.fixture
def queue_arn(sandbox):
    where = sandbox.admin("GET", "sqs")
    sqs = boto3.client("sqs", endpoint_url=where["endpoint"], region_name=where["region"], aws_access_key_id="x", aws_secret_access_key="x")
    url = sqs.create_queue(QueueName="omsync-subscribe-test")["QueueUrl"]
    yield sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.delete_queue(QueueUrl=url)


def _calls(sandbox) -> dict[str, int]:
    return sandbox.admin("GET", "calls")["calls"]


def test_subscribing_twice_makes_one_destination_and_one_subscription(sandbox, amazon, queue_arn):
    assert amazon.notification_setup().destinations == () and amazon.notification_setup().subscription is None
    first = amazon.subscribe_order_change(queue_arn)
    [destination] = first.destinations
    assert destination.arn == queue_arn
    assert first.subscription.destination_id == destination.destination_id and first.subscription.payload_version == "1.0"
    assert first.created == (f"destination {destination.destination_id}", f"subscription {first.subscription.subscription_id}")

    second = amazon.subscribe_order_change(queue_arn)
    assert second.created == () and second.destinations == first.destinations and second.subscription == first.subscription
    assert amazon.notification_setup() == second
    calls = _calls(sandbox)
    assert calls["createDestination"] == 1 and calls["createSubscription"] == 1
    # What the sandbox holds, asked over plain HTTP: one destination, and the subscription as sent (ORDER_CHANGE, every marketplace).
    with client(sandbox, token(sandbox, grant_type="client_credentials", scope="sellingpartnerapi::notifications")) as grantless, \
            client(sandbox, token(sandbox, grant_type="refresh_token", refresh_token="Atzr|r")) as seller:
        assert [d["resource"]["sqs"]["arn"] for d in grantless.get("/notifications/v1/destinations").json()["payload"]] == [queue_arn]
        held = seller.get(f"/notifications/v1/subscriptions/{ORDER_CHANGE}").json()["payload"]
    assert held["subscriptionId"] == first.subscription.subscription_id
    assert held["processingDirective"] == {"eventFilter": {"eventFilterType": ORDER_CHANGE}}


def test_a_bad_queue_arn_is_one_line_and_creates_nothing(sandbox, amazon, queue_arn):
    for bad in ("https://sqs.us-east-1.amazonaws.com/123456789012/orders", "arn:aws:sqs:us-east-1:123456789012:orders.fifo"):
        with pytest.raises(UserError, match="is not an SQS queue ARN|FIFO") as refused:
            amazon.subscribe_order_change(bad)
        assert "\n" not in str(refused.value)
    assert _calls(sandbox) == {}, "refused before any call"
    amazon.subscribe_order_change(queue_arn)
    with pytest.raises(UserError, match="is not an SQS queue ARN"):  # a typo, not "ORDER_CHANGE already goes elsewhere"
        amazon.subscribe_order_change(queue_arn.replace("arn:aws:sqs:", "arn:aws:sns:"))


def test_order_change_is_not_moved_to_another_queue_behind_the_merchants_back(sandbox, amazon, queue_arn):
    amazon.subscribe_order_change(queue_arn)
    other = queue_arn.rsplit(":", 1)[0] + ":another-queue"
    with pytest.raises(UserError, match="already goes to") as refused:
        amazon.subscribe_order_change(other)
    assert queue_arn in str(refused.value) and "\n" not in str(refused.value)
    assert [d.arn for d in amazon.notification_setup().destinations] == [queue_arn]


def test_a_stale_grantless_token_is_replaced(sandbox, amazon, queue_arn):
    # A grantless token another endpoint issued (or one Amazon revoked), left in the library's cache.
    amazon.notification_setup()
    [key] = access_token_client.grantless_cache.keys()
    access_token_client.grantless_cache[key] = {"access_token": "Atza|revoked", "expires_in": 3600}
    assert amazon.subscribe_order_change(queue_arn).destinations[0].arn == queue_arn
