"""Fidelity, tested: every kind of answer the sandbox gives matches Amazon's OpenAPI models, and
requests the models reject are refused with Amazon's error shape."""

import gzip
import json

import httpx
import pytest

from omsync.sandbox.conformance import operation, processing_report_validator


def check(op_key: str, response: httpx.Response) -> dict:
    body = response.json() if response.content else None
    assert operation(op_key).response_errors(response.status_code, body) == [], (op_key, response.status_code, body)
    assert response.headers["x-amzn-RequestId"]
    if response.status_code in (200, 201, 202, 204, 400, 404):
        assert float(response.headers["x-amzn-RateLimit-Limit"]) > 0
    else:
        assert "x-amzn-RateLimit-Limit" not in response.headers
    return body


def _setup_market(sandbox):
    sandbox.admin("POST", "listings", {"listings": [{"sku": f"SKU-{i}", "productType": "LUGGAGE", "quantity": 20, "price": "15.50"} for i in range(5)]})
    orders = sandbox.admin("POST", "orders", {"count": 40, "release": True})["orderIds"]
    pending = sandbox.admin("POST", "orders", {"count": 3})["orderIds"]
    sandbox.admin("POST", "clock/advance", {"seconds": 600})
    return orders, pending


def test_every_feeds_answer_matches_the_model(sandbox, api):
    sandbox.admin("POST", "listings", {"listings": [{"sku": "SKU-1", "productType": "LUGGAGE"}]})
    created = check("createFeedDocument", api.post("/feeds/2021-06-30/documents", json={"contentType": "application/json; charset=UTF-8", "marketplaceIds": ["X"], "path": "leak"}))
    feed_doc = {"header": {"sellerId": "A1OMSYNCDEMO", "version": "2.0"}, "messages": [
        {"messageId": 1, "sku": "SKU-1", "operationType": "PATCH", "productType": "LUGGAGE",
         "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}]},
        {"messageId": 2, "sku": "NOPE", "operationType": "DELETE"}]}
    upload = httpx.put(created["url"], content=json.dumps(feed_doc).encode(), headers={"Content-Type": "application/json; charset=UTF-8"}, trust_env=False)
    assert upload.status_code == 200
    feed = check("createFeed", api.post("/feeds/2021-06-30/feeds", json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": ["ATVPDKIKX0DER"], "inputFeedDocumentId": created["feedDocumentId"]}))
    queued = check("getFeed", api.get(f"/feeds/2021-06-30/feeds/{feed['feedId']}"))
    assert queued["processingStatus"] == "IN_QUEUE"
    sandbox.admin("POST", "clock/advance", {"seconds": 600})
    done = check("getFeed", api.get(f"/feeds/2021-06-30/feeds/{feed['feedId']}"))
    assert done["processingStatus"] == "DONE"
    listed = check("getFeeds", api.get("/feeds/2021-06-30/feeds", params={"feedTypes": "JSON_LISTINGS_FEED", "pageSize": 10}))
    assert [f["feedId"] for f in listed["feeds"]] == [feed["feedId"]]
    result = check("getFeedDocument", api.get(f"/feeds/2021-06-30/documents/{done['resultFeedDocumentId']}"))
    report = httpx.get(result["url"], trust_env=False).json()
    assert list(processing_report_validator().iter_errors(report)) == []
    assert report["summary"]["messagesAccepted"] == 1 and report["issues"][0]["messageId"] == 2
    check("getFeed", api.get("/feeds/2021-06-30/feeds/999"))  # 404
    check("cancelFeed", api.delete(f"/feeds/2021-06-30/feeds/{feed['feedId']}"))  # 400: no longer IN_QUEUE


def test_every_listings_answer_matches_the_model(sandbox, api):
    sandbox.admin("POST", "listings", {"listings": [{"sku": "SKU/1 x", "productType": "SHOES", "quantity": 2, "price": "9.99"}]})
    path = "/listings/2021-08-01/items/A1OMSYNCDEMO/SKU%2F1%20x"
    item = check("getListingsItem", api.get(path, params={"marketplaceIds": "ATVPDKIKX0DER", "includedData": "summaries,attributes,fulfillmentAvailability"}))
    assert item["summaries"][0]["productType"] == "SHOES"
    patch = {"productType": "SHOES", "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]}]}
    assert check("patchListingsItem", api.patch(path, params={"marketplaceIds": "ATVPDKIKX0DER"}, json=patch))["status"] == "ACCEPTED"
    preview = check("patchListingsItem", api.patch(path, params={"marketplaceIds": "ATVPDKIKX0DER", "mode": "VALIDATION_PREVIEW"}, json=patch))
    assert preview["status"] == "VALID"
    check("getListingsItem", api.get("/listings/2021-08-01/items/A1OMSYNCDEMO/MISSING", params={"marketplaceIds": "ATVPDKIKX0DER"}))
    refused = check("patchListingsItem", api.patch(path, params={"marketplaceIds": "ATVPDKIKX0DER"}, json={"productType": "SHOES"}))
    assert refused["errors"][0]["code"] == "InvalidInput"


def test_every_orders_answer_matches_the_model(sandbox, api):
    orders, pending = _setup_market(sandbox)
    everything = "BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT"
    page = check("searchOrders", api.get("/orders/2026-01-01/orders", params={"createdAfter": "2020-01-01T00:00:00Z", "includedData": everything, "maxResultsPerPage": 50}))
    assert {o["orderId"] for o in page["orders"]} == set(orders + pending) and "createdBefore" in page
    first = check("searchOrders", api.get("/orders/2026-01-01/orders", params={"lastUpdatedAfter": "2020-01-01T00:00:00Z", "maxResultsPerPage": 10}))
    assert len(first["orders"]) == 10 and first["pagination"]["nextToken"]
    token = first["pagination"]["nextToken"]
    second = check("searchOrders", api.get("/orders/2026-01-01/orders", params={"lastUpdatedAfter": "2020-01-01T00:00:00Z", "paginationToken": token, "maxResultsPerPage": 20, "includedData": "BUYER"}))
    assert not {o["orderId"] for o in second["orders"]} & {o["orderId"] for o in first["orders"]}
    for dropped_or_changed in ({}, {"lastUpdatedAfter": "2021-01-01T00:00:00Z"}, {"lastUpdatedAfter": "2020-01-01T00:00:00Z", "fulfillmentStatuses": "SHIPPED"}):
        refused = check("searchOrders", api.get("/orders/2026-01-01/orders", params={"paginationToken": token, **dropped_or_changed}))
        assert refused["errors"][0]["code"] == "InvalidInput" and "paginationToken" in refused["errors"][0]["message"]
    merchant = next(o for o in page["orders"] if o["fulfillment"]["fulfilledBy"] == "MERCHANT" and o["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED")
    item = merchant["orderItems"][0]
    body = {"marketplaceId": "ATVPDKIKX0DER", "packageDetail": {"packageReferenceId": "7", "carrierCode": "Other", "carrierName": "Hermes",
            "trackingNumber": "H123", "shipDate": "2026-11-27T12:00:00Z", "orderItems": [{"orderItemId": item["orderItemId"], "quantity": 1}]}}
    confirmed = api.post(f"/orders/v0/orders/{merchant['orderId']}/shipmentConfirmation", json=body)
    assert confirmed.status_code == 204 and confirmed.content == b""
    check("confirmShipment", confirmed)
    check("confirmShipment", api.post(f"/orders/v0/orders/{merchant['orderId']}/shipmentConfirmation", json={**body, "packageDetail": {**body["packageDetail"], "shipDate": "02/21/2022"}}))
    check("confirmShipment", api.post("/orders/v0/orders/000-0000000-0000000/shipmentConfirmation", json=body))
    one = check("getOrder@2026-01-01", api.get(f"/orders/2026-01-01/orders/{merchant['orderId']}", params={"includedData": everything}))
    assert one["order"]["packages"][0]["carrier"] == "Hermes"
    check("getOrder@2026-01-01", api.get("/orders/2026-01-01/orders/000-0000000-0000000"))
    pending_order = check("getOrder@2026-01-01", api.get(f"/orders/2026-01-01/orders/{pending[0]}", params={"includedData": everything}))["order"]
    if pending_order["fulfillment"]["fulfillmentStatus"] == "PENDING":
        assert "proceeds" not in pending_order and "buyer" not in pending_order


def test_every_reports_answer_matches_the_model(sandbox, api):
    _setup_market(sandbox)
    created = sandbox.admin("POST", "settlements", {"gzip": True})
    listed = check("getReports", api.get("/reports/2021-06-30/reports", params={"reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "processingStatuses": "DONE"}))
    assert [r["reportId"] for r in listed["reports"]] == [created["reportId"]]
    check("getReport", api.get(f"/reports/2021-06-30/reports/{created['reportId']}"))
    check("getReport", api.get("/reports/2021-06-30/reports/1"))
    document = check("getReportDocument", api.get(f"/reports/2021-06-30/documents/{created['reportDocumentId']}"))
    assert document["compressionAlgorithm"] == "GZIP"
    download = httpx.get(document["url"], trust_env=False)
    assert "content-encoding" not in download.headers and "charset=UTF-8" in download.headers["content-type"]
    assert gzip.decompress(download.content).decode().startswith("settlement-id\t")


@pytest.mark.parametrize(
    "op_key, method, path, params, body",
    [
        ("searchOrders", "GET", "/orders/2026-01-01/orders", {"createdAfter": "2020-01-01T00:00:00Z", "fulfillmentStatuses": "SHIPPED,LOST"}, None),
        ("searchOrders", "GET", "/orders/2026-01-01/orders", {"createdAfter": "yesterday"}, None),
        ("searchOrders", "GET", "/orders/2026-01-01/orders", {"createdAfter": "2020-01-01T00:00:00Z", "lastUpdatedAfter": "2020-01-01T00:00:00Z"}, None),
        ("searchOrders", "GET", "/orders/2026-01-01/orders", {"lastUpdatedAfter": "2020-01-01T00:00:00Z", "lastUpdatedBefore": "2099-01-01T00:00:00Z"}, None),
        ("createFeed", "POST", "/feeds/2021-06-30/feeds", {}, {"feedType": "JSON_LISTINGS_FEED"}),
        ("createFeedDocument", "POST", "/feeds/2021-06-30/documents", {}, {}),
        ("getReports", "GET", "/reports/2021-06-30/reports", {"reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "pageSize": "500"}, None),
    ],
)
def test_requests_the_models_reject_get_400_invalid_input(sandbox, api, op_key, method, path, params, body):
    response = api.request(method, path, params=params, json=body)
    assert response.status_code == 400
    assert check(op_key, response)["errors"][0]["code"] == "InvalidInput"


def test_without_a_sandbox_token_every_operation_is_403(sandbox):
    response = httpx.get(f"{sandbox.url}/orders/2026-01-01/orders", params={"createdAfter": "2020-01-01T00:00:00Z"}, headers={"x-amz-access-token": "Atza|forged"}, trust_env=False)
    assert response.status_code == 403
    check("searchOrders", response)


def test_lwa_answers_json_for_good_and_malformed_requests(sandbox):
    good = httpx.post(f"{sandbox.url}/auth/o2/token", data={"grant_type": "refresh_token", "client_id": "c", "client_secret": "s", "refresh_token": "Atzr|x"}, trust_env=False)
    assert good.status_code == 200 and good.json()["access_token"].startswith("Atza|") and good.json()["expires_in"] == 3600
    for data in ({"grant_type": "refresh_token", "client_id": "c"}, {"grant_type": "password"}, {}):
        bad = httpx.post(f"{sandbox.url}/auth/o2/token", data=data, trust_env=False)
        assert bad.status_code == 400 and set(bad.json()) == {"error", "error_description"}


def test_throttled_calls_get_429_quota_exceeded(sandbox, api):
    sandbox.admin("POST", "faults", {"operation": "getReports", "throttle": 1.0})
    response = api.get("/reports/2021-06-30/reports", params={"reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"})
    assert response.status_code == 429 and check("getReports", response)["errors"][0]["code"] == "QuotaExceeded"


def test_usage_plans_throttle_a_burst(sandbox, api):
    sandbox.admin("POST", "reset", {"timeScale": 1})  # real time: searchOrders refills one call per three minutes
    statuses = [api.get("/orders/2026-01-01/orders", params={"createdAfter": "2020-01-01T00:00:00Z"}).status_code for _ in range(25)]
    assert statuses[:20] == [200] * 20 and set(statuses[20:]) == {429}


def test_a_dropped_connection_is_cut_in_the_middle_of_the_answer(sandbox, api):
    sandbox.admin("POST", "faults", {"operation": "getReports", "drop": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/reports/2021-06-30/reports", params={"reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"})


def test_a_queued_feed_can_be_cancelled(sandbox, api):
    created = check("createFeedDocument", api.post("/feeds/2021-06-30/documents", json={"contentType": "application/json"}))
    httpx.put(created["url"], content=b"{}", headers={"Content-Type": "application/json"}, trust_env=False)
    feed = check("createFeed", api.post("/feeds/2021-06-30/feeds", json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": ["ATVPDKIKX0DER"], "inputFeedDocumentId": created["feedDocumentId"]}))
    cancelled = api.delete(f"/feeds/2021-06-30/feeds/{feed['feedId']}")
    assert cancelled.status_code == 200
    check("cancelFeed", cancelled)
    assert check("getFeed", api.get(f"/feeds/2021-06-30/feeds/{feed['feedId']}"))["processingStatus"] == "CANCELLED"


def test_an_upload_with_another_content_type_or_an_expired_url_is_refused(sandbox, api):
    created = api.post("/feeds/2021-06-30/documents", json={"contentType": "application/json; charset=UTF-8"}).json()
    wrong = httpx.put(created["url"], content=b"{}", headers={"Content-Type": "text/plain"}, trust_env=False)
    assert wrong.status_code == 403 and wrong.json()["errors"][0]["code"] == "SignatureDoesNotMatch"
    sandbox.admin("POST", "clock/advance", {"days": 5})  # beyond five real minutes at this time scale
    late = httpx.put(created["url"], content=b"{}", headers={"Content-Type": "application/json; charset=UTF-8"}, trust_env=False)
    assert late.status_code == 403 and late.json()["errors"][0]["message"] == "Request has expired"


def test_a_request_applied_can_lose_its_reply(sandbox, api):
    """#16: the change is made, then the connection drops, so the client cannot tell it worked."""
    sandbox.admin("POST", "listings", {"listings": [{"sku": "LOST", "productType": "SHOES", "quantity": 2, "price": "9.99"}]})
    sandbox.admin("POST", "faults", {"operation": "patchListingsItem", "lostReply": 1.0})
    patch = {"productType": "SHOES", "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]}]}
    with pytest.raises(httpx.RemoteProtocolError):
        api.patch("/listings/2021-08-01/items/A1OMSYNCDEMO/LOST", params={"marketplaceIds": "ATVPDKIKX0DER"}, json=patch)
    [listing] = sandbox.admin("GET", "listings", skus="LOST")["listings"]
    assert listing["quantity"] == 7


def test_a_sku_over_40_characters_is_refused(sandbox, api):
    sku = "S" * 41
    answer = check("patchListingsItem", api.patch(f"/listings/2021-08-01/items/A1OMSYNCDEMO/{sku}", params={"marketplaceIds": "ATVPDKIKX0DER"},
                                                  json={"productType": "SHOES", "patches": [{"op": "delete", "path": "/attributes/purchasable_offer"}]}))
    assert answer["status"] == "INVALID" and "at most 40" in answer["issues"][0]["message"]
    with pytest.raises(httpx.HTTPStatusError):
        sandbox.admin("POST", "listings", {"listings": [{"sku": sku, "productType": "SHOES"}]})


def test_the_realism_profile_is_set_by_the_admin_api_and_reset_goes_back_to_simple(sandbox, api):
    assert sandbox.admin("GET", "realism")["realism"]["fba_share"] == 0  # the fixture's reset: SIMPLE
    hard = sandbox.admin("POST", "realism", {"profile": "seller", "settings": {"fba_share": 0.5}})["realism"]
    assert hard["fba_share"] == 0.5 and hard["sale_share"] > 0 and not hard["feeds_in_order"]
    sandbox.admin("POST", "listings", {"listings": [{"sku": f"R-{i}", "productType": "HOME"} for i in range(40)]})
    item = check("getListingsItem", api.get("/listings/2021-08-01/items/A1OMSYNCDEMO/R-1", params={
        "marketplaceIds": "ATVPDKIKX0DER", "includedData": "summaries,attributes,issues,fulfillmentAvailability"}))
    assert item["attributes"]["purchasable_offer"][0]["our_price"]
    with pytest.raises(httpx.HTTPStatusError):
        sandbox.admin("POST", "realism", {"settings": {"fba_share": 2}})
    sandbox.admin("POST", "reset", {"profile": "seller"})
    assert sandbox.admin("GET", "realism")["realism"]["fba_share"] == 0.25
    sandbox.admin("POST", "reset", {})
    assert sandbox.admin("GET", "realism")["realism"]["fba_share"] == 0


def test_a_suppressed_offer_shows_its_issue_in_the_model_shape(sandbox, api):
    sandbox.admin("POST", "reset", {"profile": "seller", "settings": {"min_max_share": 1.0}})
    sandbox.admin("POST", "listings", {"listings": [{"sku": "CAPPED", "productType": "HOME", "quantity": 5, "price": "20.00"}]})
    path = "/listings/2021-08-01/items/A1OMSYNCDEMO/CAPPED"
    offer = {"marketplace_id": "ATVPDKIKX0DER", "currency": "USD", "audience": "ALL", "our_price": [{"schedule": [{"value_with_tax": 99.0}]}]}
    patch = {"productType": "HOME", "patches": [{"op": "replace", "path": "/attributes/purchasable_offer", "value": [offer]}]}
    assert check("patchListingsItem", api.patch(path, params={"marketplaceIds": "ATVPDKIKX0DER"}, json=patch))["status"] == "ACCEPTED"
    item = check("getListingsItem", api.get(path, params={"marketplaceIds": "ATVPDKIKX0DER", "includedData": "summaries,issues"}))
    assert item["summaries"][0]["status"] == ["DISCOVERABLE"]
    assert item["issues"][0]["enforcements"]["actions"] == [{"action": "LISTING_SUPPRESSED"}] and item["issues"][0]["categories"] == ["INVALID_PRICE"]


def test_seller_orders_and_the_acknowledgement_feed_match_the_models(sandbox, api):
    sandbox.admin("POST", "reset", {"profile": "seller", "settings": {"outside_share": 0.5, "split_share": 1.0, "buyer_cancel_request_share": 0.0}})
    sandbox.admin("POST", "listings", {"listings": [{"sku": f"O-{i}", "productType": "HOME", "quantity": 50, "price": "12.00", "fulfillment": "MERCHANT"} for i in range(5)]})
    placed = sandbox.admin("POST", "orders", {"count": 12, "fulfilledBy": "MERCHANT", "basketSizes": [2], "release": True})["orderIds"]
    sandbox.admin("POST", "clock/advance", {"days": 3})
    orders = {o["orderId"]: o for o in sandbox.admin("GET", "orders")["orders"]}
    outside = next(i for i in placed if orders[i]["packages"])
    waiting = next(i for i in placed if not orders[i]["packages"] and orders[i]["status"] == "UNSHIPPED")
    sandbox.admin("POST", f"orders/{waiting}/cancel-request", {"reason": "No longer needed"})
    everything = "BUYER,RECIPIENT,PROCEEDS,CANCELLATION,FULFILLMENT,PACKAGES"
    shown = check("getOrder@2026-01-01", api.get(f"/orders/2026-01-01/orders/{outside}", params={"includedData": everything}))["order"]
    assert shown["fulfillment"]["fulfillmentStatus"] == "SHIPPED" and len(shown["packages"]) == 2
    asked = check("getOrder@2026-01-01", api.get(f"/orders/2026-01-01/orders/{waiting}", params={"includedData": everything}))["order"]
    assert asked["orderItems"][0]["cancellation"]["cancellationRequest"]["cancelReason"] == "No longer needed"
    xml = (f"<?xml version='1.0'?><AmazonEnvelope><Header><DocumentVersion>1.01</DocumentVersion><MerchantIdentifier>A1OMSYNCDEMO</MerchantIdentifier>"
           f"</Header><MessageType>OrderAcknowledgement</MessageType><Message><MessageID>1</MessageID><OrderAcknowledgement>"
           f"<AmazonOrderID>{waiting}</AmazonOrderID><StatusCode>Failure</StatusCode></OrderAcknowledgement></Message></AmazonEnvelope>")
    created = check("createFeedDocument", api.post("/feeds/2021-06-30/documents", json={"contentType": "text/xml; charset=UTF-8"}))
    httpx.put(created["url"], content=xml.encode(), headers={"Content-Type": "text/xml; charset=UTF-8"}, trust_env=False)
    feed = check("createFeed", api.post("/feeds/2021-06-30/feeds", json={"feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA", "marketplaceIds": ["ATVPDKIKX0DER"], "inputFeedDocumentId": created["feedDocumentId"]}))
    sandbox.admin("POST", "clock/advance", {"days": 1})
    done = check("getFeed", api.get(f"/feeds/2021-06-30/feeds/{feed['feedId']}"))
    assert done["processingStatus"] == "DONE"
    result = check("getFeedDocument", api.get(f"/feeds/2021-06-30/documents/{done['resultFeedDocumentId']}"))
    report = httpx.get(result["url"], trust_env=False)
    assert report.headers["content-type"].startswith("text/xml") and b"<MessagesWithError>0</MessagesWithError>" in report.content
    cancelled = check("getOrder@2026-01-01", api.get(f"/orders/2026-01-01/orders/{waiting}", params={"includedData": "CANCELLATION,FULFILLMENT"}))["order"]
    assert cancelled["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert cancelled["orderItems"][0]["cancellation"]["cancellationExecution"]["cancelledBy"] == "MERCHANT"
