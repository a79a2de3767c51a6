"""The Amazon connector against the sandbox over real HTTP, through python-amazon-sp-api."""

import logging
from datetime import datetime, timedelta

import polars as pl
import pytest

from omsync.connectors.amazon import AmazonConnector, AmazonRejected, AmazonUnavailable, RetryPolicy
from omsync.sandbox.process import start_sandbox

FAST_RETRIES = RetryPolicy(attempts=12, base_delay=0.005, max_delay=0.05)


@pytest.fixture
def amazon(sandbox):
    with AmazonConnector(sandbox.settings(), retry=FAST_RETRIES, seed=3) as connector:
        yield connector


def _catalog(sandbox, n=5, **extra):
    sandbox.admin("POST", "listings", {"listings": [
        {"sku": f"SKU-{i}", "productType": "LUGGAGE", "quantity": 10, "price": "20.00", **extra} for i in range(1, n + 1)]})


def _messages(rows: list[dict]) -> pl.Series:
    return pl.Series([__import__("json").dumps(r) for r in rows])


def _quantity(sku, quantity, product_type="LUGGAGE"):
    message = {"sku": sku, "operationType": "PATCH", "productType": product_type,
               "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}]}
    if product_type is None:
        del message["productType"]
    return message


def _price(sku, price, currency="USD"):
    return {"sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
            "patches": [{"op": "replace", "path": "/attributes/purchasable_offer", "value": [
                {"marketplace_id": "ATVPDKIKX0DER", "currency": currency, "audience": "ALL",
                 "our_price": [{"schedule": [{"value_with_tax": price}]}]}]}]}


def test_feed_round_trip_applies_good_messages_and_reports_each_bad_one(sandbox, amazon):
    _catalog(sandbox)
    messages = [
        _quantity("SKU-1", 7),
        _price("SKU-2", 24.99),
        _quantity("SKU-404", 3),                 # unknown SKU
        _quantity("SKU-3", -2),                  # negative quantity
        _price("SKU-4", 19.99, currency="EUR"),  # wrong currency
        _quantity("SKU-5", 4, product_type=None),  # missing productType
        _price("SKU-5", 12.345),                 # more decimals than money has
    ]
    [feed] = amazon.submit_listings_feed(_messages(messages))
    result = amazon.wait_for_feed(feed.feed_id, timeout=60, poll=0.05)
    assert result.status == "DONE"
    assert result.report["summary"] | {} == {"errors": 5, "warnings": 0, "messagesProcessed": 7, "messagesAccepted": 2, "messagesInvalid": 5}
    rejected = {i["messageId"]: i for i in result.report["issues"]}
    assert set(rejected) == {3, 4, 5, 6, 7}
    assert "does not match any listing" in rejected[3]["message"]
    assert "productType" in rejected[6]["message"]
    listings = {l["sku"]: l for l in sandbox.admin("GET", "listings")["listings"]}
    assert listings["SKU-1"]["quantity"] == 7 and listings["SKU-2"]["price"] == "24.99"
    assert listings["SKU-3"]["quantity"] == 10 and listings["SKU-4"]["price"] == "20.0"


def test_feeds_are_cut_at_25000_messages(sandbox, amazon):
    _catalog(sandbox, n=1)
    feeds = amazon.submit_listings_feed(_messages([_quantity("SKU-1", i % 50) for i in range(25_001)]))
    assert [(f.first_message, f.messages) for f in feeds] == [(0, 25_000), (25_000, 1)]
    last = amazon.wait_for_feed(feeds[1].feed_id, timeout=120, poll=0.05)
    assert last.report["summary"]["messagesAccepted"] == 1


def test_a_fatal_feed_is_reported_as_such(sandbox, amazon):
    _catalog(sandbox, n=1)
    sandbox.admin("POST", "faults", {"fatalFeeds": 1})
    [feed] = amazon.submit_listings_feed(_messages([_quantity("SKU-1", 1)]))
    result = amazon.wait_for_feed(feed.feed_id, timeout=60, poll=0.05)
    assert result.status == "FATAL" and result.report["issues"][0]["severity"] == "ERROR"


def test_non_ascii_skus_survive_the_round_trip(sandbox, amazon):
    sandbox.admin("POST", "listings", {"listings": [{"sku": "Müller-Tasse €/1", "productType": "KITCHEN", "quantity": 1}]})
    [feed] = amazon.submit_listings_feed(_messages([_quantity("Müller-Tasse €/1", 5, "KITCHEN"), _quantity("Größe-XL", 1)]))
    result = amazon.wait_for_feed(feed.feed_id, timeout=60, poll=0.05)
    assert [i["sku"] for i in result.report["issues"]] == ["Größe-XL"]
    assert amazon.get_listings_item("Müller-Tasse €/1", ["summaries", "fulfillmentAvailability"])["fulfillmentAvailability"][0]["quantity"] == 5


def test_patch_listings_item_accepts_and_refuses(sandbox, amazon):
    _catalog(sandbox, n=1)
    ok = amazon.patch_listings_item("SKU-1", "LUGGAGE", _quantity("SKU-1", 0)["patches"])
    assert ok["status"] == "ACCEPTED" and ok["issues"] == []
    bad = amazon.patch_listings_item("SKU-1", "LUGGAGE", _quantity("SKU-1", -1)["patches"])
    assert bad["status"] == "INVALID" and bad["issues"][0]["severity"] == "ERROR"
    assert sandbox.admin("GET", "listings", skus="SKU-1")["listings"][0]["quantity"] == 0


def _all_orders(amazon):
    """An incremental sync as the orders flow does it: one window, then the next from its bound minus an overlap.

    The sandbox clock runs on while pages are read, so an order that changes mid-search moves past
    the first window's lastUpdatedBefore; the next window must then catch it.
    """
    before = amazon.amazon_now() - timedelta(minutes=2)
    pages = list(amazon.search_orders(before - timedelta(days=30), before, page_size=100))
    first = [o["orderId"] for page in pages for o in page["orders"]]
    assert len(first) == len(set(first)), "no order twice in one search"
    bound = datetime.fromisoformat(pages[-1]["lastUpdatedBefore"].replace("Z", "+00:00"))
    later = [o["orderId"] for page in amazon.search_orders(bound - timedelta(minutes=10), amazon.amazon_now() - timedelta(minutes=2))
             for o in page["orders"]]
    return pages, set(first) | set(later)


def test_pagination_over_thousands_of_orders_through_a_429_storm_loses_nothing(sandbox, amazon):
    _catalog(sandbox, n=40, quantity=500)
    placed = sandbox.admin("POST", "orders", {"count": 2500, "release": True})["orderIds"]
    sandbox.admin("POST", "clock/advance", {"seconds": 300})
    sandbox.admin("POST", "faults", {"operation": "searchOrders", "throttle": 0.5})
    pages, seen = _all_orders(amazon)
    assert len(placed) == 2500 and len(pages) >= 24
    assert seen == set(placed)
    calls = sandbox.admin("GET", "calls")
    assert calls["throttled"]["searchOrders"] >= 5


def test_server_errors_and_dropped_connections_are_retried(sandbox, amazon):
    _catalog(sandbox, n=10, quantity=100)
    placed = sandbox.admin("POST", "orders", {"count": 300, "release": True})["orderIds"]
    sandbox.admin("POST", "clock/advance", {"seconds": 300})
    sandbox.admin("POST", "faults", {"operation": "searchOrders", "error500": 0.2, "error503": 0.2, "drop": 0.2})
    _, seen = _all_orders(amazon)
    assert seen == set(placed)


def test_retries_are_bounded_and_rejections_are_not_retried(sandbox, amazon):
    sandbox.admin("POST", "faults", {"operation": "getOrder", "throttle": 1.0})
    with pytest.raises(AmazonUnavailable) as err:
        amazon.get_order("111-0000000-0000000")
    assert "after 12 attempts" in str(err.value)
    assert sandbox.admin("GET", "calls")["calls"]["getOrder"] == 12
    with pytest.raises(AmazonRejected) as rejected:
        amazon.confirm_shipment("111-0000000-0000000", {"packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z",
                                                        "shipDate": "2026-11-27T10:00:00Z", "orderItems": [{"orderItemId": "1", "quantity": 1}]})
    assert rejected.value.status == 404 and rejected.value.request_id
    assert sandbox.admin("GET", "calls")["calls"]["confirmShipment"] == 1


def test_confirm_shipment_and_get_order(sandbox, amazon):
    _catalog(sandbox, n=3, quantity=50)
    [order_id] = sandbox.admin("POST", "orders", {"count": 1, "fulfilledBy": "MERCHANT", "release": True})["orderIds"]
    order = amazon.get_order(order_id)
    assert order["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED" and order["buyer"]["buyerEmail"].endswith("@marketplace.amazon.com")
    items = [{"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]} for i in order["orderItems"]]
    package = {"packageReferenceId": "1001", "carrierCode": "UPS", "trackingNumber": "1Z999", "shipDate": "2026-11-27T10:00:00Z", "orderItems": items}
    amazon.confirm_shipment(order_id, package)
    amazon.confirm_shipment(order_id, package | {"trackingNumber": "1Z1000"})  # the same package again: an edit
    shipped = amazon.get_order(order_id)
    assert shipped["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert [(p["packageReferenceId"], p["trackingNumber"]) for p in shipped["packages"]] == [("1001", "1Z1000")]
    with pytest.raises(AmazonRejected, match="positive numeric"):
        amazon.confirm_shipment(order_id, package | {"packageReferenceId": "PKG-1"})


def test_settlement_reports_list_and_download_gzip_and_plain(sandbox, amazon):
    sandbox.admin("POST", "settlements", {"gzip": True})
    sandbox.admin("POST", "settlements", {"gzip": False})
    reports = amazon.list_settlement_reports(amazon.amazon_now() - timedelta(days=1))
    assert len(reports) == 2
    for report in reports:
        document = amazon.download_report(report["reportDocumentId"])
        text = document.content.decode(document.charset)
        assert text.startswith("settlement-id\tsettlement-start-date") and "Subscription Fee" in text


def test_amazon_now_follows_the_sandbox_clock(sandbox, amazon):
    amazon.list_settlement_reports(amazon.amazon_now() - timedelta(days=1))
    sandbox.admin("POST", "clock/advance", {"seconds": 10 * 86400})
    amazon.list_settlement_reports(amazon.amazon_now() - timedelta(days=1))
    clock = sandbox.admin("GET", "clock")
    assert abs((amazon.amazon_now() - __import__("omsync.sandbox.clock", fromlist=["parse_iso"]).parse_iso(clock["now"])).total_seconds()) < 600


def test_client_pitfalls_default_marketplace_and_proxies_are_neutralised(sandbox, monkeypatch):
    monkeypatch.setenv("SP_API_DEFAULT_MARKETPLACE", "DE")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    with AmazonConnector(sandbox.settings(), retry=FAST_RETRIES) as amazon:
        assert amazon.list_settlement_reports(amazon.amazon_now() - timedelta(days=1)) == []


def test_secrets_stay_out_of_logs_and_errors(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    settings = sandbox.settings(SP_API_REFRESH_TOKEN="Atzr|s3cr3t-refresh", LWA_CLIENT_SECRET="s3cr3t-client")
    sandbox.admin("POST", "faults", {"operation": "getOrder", "throttle": 1.0})
    with AmazonConnector(settings, retry=RetryPolicy(attempts=2, base_delay=0.001)) as amazon:
        with pytest.raises(AmazonUnavailable) as err:
            amazon.get_order("111-0000000-0000000")
    shown = caplog.text + str(err.value) + repr(settings)
    assert "s3cr3t" not in shown
    assert "Atza|" not in shown, "access tokens stay out of logs too"


def test_missing_credentials_name_the_settings(sandbox):
    from omsync.core.errors import ConfigError
    from omsync.core.settings import Settings

    with pytest.raises(ConfigError, match="LWA_APP_ID"):
        AmazonConnector(Settings.from_env({"OMSYNC_AMAZON_ENDPOINT": sandbox.url}))


@pytest.fixture(scope="module")
def german_sandbox():
    server = start_sandbox("--time-scale", "1000", "--validate-responses", env={"OMSYNC_MARKETPLACE_ID": "A1PA6795UKMFR9"})
    yield server
    server.stop()


def test_a_german_settlement_report_is_latin1_with_decimal_commas(german_sandbox):
    issued = german_sandbox.admin("POST", "settlements", {"gzip": True})
    settings = german_sandbox.settings(OMSYNC_MARKETPLACE_ID="A1PA6795UKMFR9", OMSYNC_CURRENCY="EUR")
    with AmazonConnector(settings, retry=FAST_RETRIES) as amazon:
        # the sandbox also settles on its own schedule (and per shipment): pick the one issued here
        [report] = [r for r in amazon.list_settlement_reports(amazon.amazon_now() - timedelta(days=1))
                    if r["reportId"] == issued["reportId"]]
        document = amazon.download_report(report["reportDocumentId"])
    assert document.charset.upper() == "ISO-8859-1"
    summary = document.content.decode(document.charset).splitlines()[1].split("\t")
    assert summary[5] == "EUR" and summary[4] == "-39,99"
    assert summary[1].endswith(" UTC") and summary[1][2] == "."


def test_a_token_the_endpoint_does_not_know_is_refreshed_once(sandbox, german_sandbox):
    """The library caches access tokens process-wide by refresh token; another sandbox (like a revoked
    token on Amazon) answers 403 Unauthorized to the cached one, and one refresh fixes it."""
    with AmazonConnector(sandbox.settings(), retry=FAST_RETRIES) as amazon:
        amazon.list_settlement_reports(amazon.amazon_now() - timedelta(days=1))
    before = german_sandbox.admin("GET", "calls")["calls"].get("getReports", 0)
    with AmazonConnector(german_sandbox.settings(OMSYNC_MARKETPLACE_ID="A1PA6795UKMFR9"), retry=FAST_RETRIES) as amazon:
        amazon.list_settlement_reports(amazon.amazon_now() - timedelta(days=1))
    assert german_sandbox.admin("GET", "calls")["calls"]["getReports"] - before == 2, "one 403, then one call with a fresh token"
