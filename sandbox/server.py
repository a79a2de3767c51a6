"""The sandbox's HTTP face: Amazon's LWA token endpoint, the SP-API operations omsync uses, the
S3-like document URLs, and an admin API under /_sandbox/ for tests and the demo.

Every SP-API answer carries x-amzn-RequestId, x-amzn-RateLimit-Limit (2xx, 400, 404) and a Date
in simulated time; every error is Amazon's JSON error shape, because python-amazon-sp-api only
raises on a body with "errors".
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import email.utils
import json
import secrets
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from omsync.sandbox import admin
from omsync.sandbox.clock import iso, parse_iso
from omsync.sandbox.conformance import operation
from omsync.sandbox.listings import apply_patches, check_patches, listing_json
from omsync.sandbox.finances_api import PLANS as FINANCES_PLANS, FinancesApi
from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.notifications_api import NotificationsApi
from omsync.sandbox.orders import ConfirmationRefused, confirm_shipment
from omsync.connectors.amazon_limits import JSON_LISTINGS_FEED_PLAN, USAGE_PLANS, TokenBucket

MIN_BEFORE_SECONDS = 120
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
SANDBOX_PLANS = FINANCES_PLANS  # operations connectors.amazon_limits does not list (omsync does not call them yet)
TOKEN_LIFETIME_SECONDS = 86400
UNLIMITED_RATE = 10_000.0


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Dropped(Exception):
    """Injected fault: the connection is cut after the response has started."""


class DroppedResponse(Response):
    """Starts a response, sends part of it, then fails so the server closes the connection."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b'{"payload": {', "more_body": True})
        raise Dropped("injected dropped connection")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": ""}]}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _dump(payload: Any) -> bytes:
    """JSON as the standard library writes it with `default=str`, several times faster (a page of
    100 orders is ~300 KB)."""
    return orjson.dumps(payload, default=_json_default,
                        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)


def _encode_token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, json.JSONDecodeError):
        raise ApiError(400, "InvalidInput", "The pagination token is invalid.") from None


def _repeated(query: dict[str, list[str]]) -> dict[str, list[str]]:
    """The searchOrders parameters a next page must repeat (Amazon: all but maxResultsPerPage and includedData)."""
    return {k: v for k, v in sorted(query.items()) if k not in ("paginationToken", "maxResultsPerPage", "includedData")}


def _csv(query: dict[str, list[str]], name: str) -> list[str]:
    return [v for item in query.get(name, []) for v in item.split(",") if v]


class SandboxApp:
    def __init__(self, market: Marketplace, validate_responses: bool = False, usage_plans: bool = True) -> None:
        """usage_plans=False serves without throttling (benchmarks of our own side only)."""
        self.market = market
        self.validate_responses = validate_responses
        self.usage_plans = usage_plans
        self.buckets: dict[str, TokenBucket] = {}
        self.notifications = NotificationsApi(market, ApiError)
        self.finances = FinancesApi(market, ApiError, _encode_token, _decode_token)
        self.app = Starlette(routes=self._routes(), exception_handlers={404: self._unknown, 405: self._unknown})

    # --- plumbing --------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        op = self._operation
        return [
            Route("/auth/o2/token", self.lwa_token, methods=["POST"]),
            Route("/feeds/2021-06-30/documents", op("createFeedDocument", self.create_feed_document), methods=["POST"]),
            Route("/feeds/2021-06-30/documents/{feedDocumentId}", op("getFeedDocument", self.get_feed_document), methods=["GET"]),
            Route("/feeds/2021-06-30/feeds", op("createFeed", self.create_feed), methods=["POST"]),
            Route("/feeds/2021-06-30/feeds", op("getFeeds", self.get_feeds), methods=["GET"]),
            Route("/feeds/2021-06-30/feeds/{feedId}", op("getFeed", self.get_feed), methods=["GET"]),
            Route("/feeds/2021-06-30/feeds/{feedId}", op("cancelFeed", self.cancel_feed), methods=["DELETE"]),
            Route("/listings/2021-08-01/items/{sellerId}/{sku:path}", op("getListingsItem", self.get_listings_item), methods=["GET"]),
            Route("/listings/2021-08-01/items/{sellerId}/{sku:path}", op("patchListingsItem", self.patch_listings_item), methods=["PATCH"]),
            Route("/orders/2026-01-01/orders", op("searchOrders", self.search_orders), methods=["GET"]),
            Route("/orders/2026-01-01/orders/{orderId}", op("getOrder@2026-01-01", self.get_order), methods=["GET"]),
            Route("/orders/v0/orders/{orderId}/shipmentConfirmation", op("confirmShipment", self.confirm_shipment), methods=["POST"]),
            Route("/reports/2021-06-30/reports", op("getReports", self.get_reports), methods=["GET"]),
            Route("/reports/2021-06-30/reports/{reportId}", op("getReport", self.get_report), methods=["GET"]),
            Route("/reports/2021-06-30/documents/{reportDocumentId}", op("getReportDocument", self.get_report_document), methods=["GET"]),
            *self.notifications.routes(op),
            *self.finances.routes(op),
            Route("/_uploads/{documentId}", self.upload, methods=["PUT"]),
            Route("/_downloads/{documentId}", self.download, methods=["GET"]),
            Route("/_sandbox/{action:path}", self.admin, methods=["GET", "POST", "DELETE"]),
        ]

    async def _unknown(self, request: Request, exc: Exception) -> Response:
        """Amazon answers paths and methods it does not serve in its JSON error shape too."""
        code = getattr(exc, "status_code", 404)
        message = f"{request.method} {request.url.path} is not an operation of this API."
        return JSONResponse(error_body("NotFound" if code == 404 else "InvalidInput", message), code,
                            headers=self._headers(str(uuid.uuid4())))

    def _headers(self, request_id: str, rate: float | None = None) -> dict[str, str]:
        headers = {"x-amzn-RequestId": request_id, "Date": email.utils.format_datetime(self.market.now(), usegmt=True)}
        if rate is not None:
            headers["x-amzn-RateLimit-Limit"] = f"{rate:.4g}"
        return headers

    def _bucket(self, key: str, plan: tuple[float, int]) -> TokenBucket:
        if key not in self.buckets:
            self.buckets[key] = TokenBucket(*plan)
        return self.buckets[key]

    def _operation(self, op_key: str, handler: Callable, grant: str = "seller") -> Callable:
        """grant: whose token the operation takes: the seller's (refresh_token), a grantless one
        (client_credentials), or either."""
        spec = operation(op_key)
        plan_name = op_key.split("@")[0]
        rate, burst = USAGE_PLANS.get(plan_name) or SANDBOX_PLANS[plan_name]

        async def endpoint(request: Request) -> Response:
            request_id = str(uuid.uuid4())
            market = self.market
            # the rate in the client's real seconds; without usage plans there is no limit to tell
            shown_rate = rate * market.clock.time_scale if self.usage_plans else UNLIMITED_RATE
            market.calls[plan_name] += 1
            token = request.headers.get("x-amz-access-token")
            if not ((grant != "grantless" and token in market.state.tokens) or (grant != "seller" and token in market.state.grantless_tokens)):
                body = error_body("Unauthorized", "Access to requested resource is denied.")
                return JSONResponse(body, 403, headers=self._headers(request_id))
            fault = market.faults.get(plan_name)
            if fault:
                if fault.latency_ms:
                    await asyncio.sleep(fault.latency_ms / 1000)
                roll = market.fault_random.random()
                if roll < fault.drop:
                    return DroppedResponse()
                roll -= fault.drop
                for chance, status, code, message in (
                    (fault.throttle, 429, "QuotaExceeded", "You exceeded your quota for the requested resource."),
                    (fault.error500, 500, "InternalFailure", "We encountered an internal error. Please try again."),
                    (fault.error503, 503, "ServiceUnavailable", "Service temporarily unavailable. Please try again."),
                ):
                    if roll < chance:
                        if status == 429:
                            market.throttled[plan_name] += 1
                        return JSONResponse(error_body(code, message), status, headers=self._headers(request_id))
                    roll -= chance
            if self.usage_plans and not self._bucket(plan_name, (rate, burst)).take(market.clock.elapsed()):
                market.throttled[plan_name] += 1
                body = error_body("QuotaExceeded", "You exceeded your quota for the requested resource.")
                return JSONResponse(body, 429, headers=self._headers(request_id))
            query = parse_qs(request.url.query, keep_blank_values=True)
            raw = await request.body()
            body: Any = None
            if raw and request.method in ("POST", "PUT", "PATCH"):
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    return self._error(request_id, shown_rate, ApiError(400, "InvalidInput", "The request body is not valid JSON."))
            problems = spec.request_errors(query, body)
            if problems:
                return self._error(request_id, shown_rate, ApiError(400, "InvalidInput", "; ".join(problems)))
            try:
                with market.lock:
                    status, payload = handler(request.path_params, query, body)
            except ApiError as exc:
                return self._error(request_id, shown_rate, exc)
            if fault and fault.lost_reply and market.fault_random.random() < fault.lost_reply:
                return DroppedResponse()  # applied, but the client never hears so
            if self.validate_responses:
                violations = spec.response_errors(status, payload)
                if violations:
                    market.response_violations.append(f"{op_key} {status}: {violations[:3]}")
                    return self._error(request_id, None, ApiError(500, "InternalFailure", "sandbox response broke the model"))
            headers = self._headers(request_id, shown_rate)
            if payload is None:
                return Response(status_code=status, headers=headers)
            return Response(_dump(payload), status, headers=headers, media_type="application/json")

        return endpoint

    def _error(self, request_id: str, rate: float | None, error: ApiError) -> Response:
        shown = rate if error.status in (400, 404) else None
        return JSONResponse(error_body(error.code, error.message), error.status, headers=self._headers(request_id, shown))

    # --- LWA -------------------------------------------------------------------------------

    async def lwa_token(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        field = {k: v[-1] for k, v in form.items()}
        grant = field.get("grant_type")
        needed = {"refresh_token": ("client_id", "client_secret", "refresh_token"),
                  "client_credentials": ("client_id", "client_secret", "scope")}
        if grant not in needed:
            return JSONResponse({"error": "unsupported_grant_type", "error_description": "grant_type must be refresh_token or client_credentials"}, 400)
        missing = [name for name in needed[grant] if not field.get(name)]
        if missing:
            return JSONResponse({"error": "invalid_request", "error_description": f"The request is missing a required parameter : {missing[0]}"}, 400)
        if grant == "client_credentials" and field["scope"] != NOTIFICATIONS_SCOPE:
            return JSONResponse({"error": "invalid_scope", "error_description": f"The sandbox grants the scope {NOTIFICATIONS_SCOPE} only"}, 400)
        token = "Atza|" + secrets.token_urlsafe(32)
        with self.market.lock:
            (self.market.state.grantless_tokens if grant == "client_credentials" else self.market.state.tokens).add(token)
        answer = {"access_token": token, "token_type": "bearer", "expires_in": 3600}
        if grant == "refresh_token":
            answer["refresh_token"] = field["refresh_token"]
        return JSONResponse(answer)

    # --- feeds -----------------------------------------------------------------------------

    def create_feed_document(self, params, query, body):
        document = self.market.new_upload(body["contentType"])
        return 201, {"feedDocumentId": document.document_id, "url": self.market.url_for("uploads", document)}

    def create_feed(self, params, query, body):
        document = self.market.state.documents.get(body["inputFeedDocumentId"])
        if document is None:
            raise ApiError(400, "InvalidInput", f"inputFeedDocumentId {body['inputFeedDocumentId']} does not exist.")
        if body["feedType"] == "JSON_LISTINGS_FEED" and self.usage_plans and not self._bucket("JSON_LISTINGS_FEED", JSON_LISTINGS_FEED_PLAN).take(self.market.clock.elapsed()):
            self.market.throttled["JSON_LISTINGS_FEED"] += 1
            raise ApiError(429, "QuotaExceeded", "You exceeded your quota of JSON_LISTINGS_FEED submissions (5 per 5 minutes).")
        feed = self.market.create_feed(body["feedType"], document.document_id, list(body["marketplaceIds"]))
        return 202, {"feedId": feed.feed_id}

    def _feed(self, feed_id: str):
        feed = self.market.state.feeds.get(feed_id)
        if feed is None:
            raise ApiError(404, "NotFound", f"Feed {feed_id} was not found.")
        return feed

    def get_feed(self, params, query, body):
        return 200, self._feed(params["feedId"]).as_json()

    def cancel_feed(self, params, query, body):
        if not self.market.cancel_feed(self._feed(params["feedId"])):
            raise ApiError(400, "InvalidInput", "Only a feed that is IN_QUEUE can be cancelled.")
        return 200, None

    def get_feeds(self, params, query, body):
        return 200, self._page_by_created(query, "feedTypes", "feeds", self.market.state.feeds.values(),
                                          lambda f: (f.feed_type, f.status), lambda f: f.feed_id)

    def get_feed_document(self, params, query, body):
        document = self.market.state.documents.get(params["feedDocumentId"])
        if document is None or document.content is None:
            raise ApiError(404, "NotFound", f"Feed document {params['feedDocumentId']} was not found.")
        return 200, {"feedDocumentId": document.document_id, "url": self.market.url_for("downloads", document)}

    # --- documents (the S3 side: no SP-API token) ------------------------------------------

    def _presigned(self, request: Request):
        document = self.market.state.documents.get(request.path_params["documentId"])
        expires = request.query_params.get("X-Amz-Expires", "0")
        if document is None:
            return None, JSONResponse(error_body("NoSuchKey", "The specified key does not exist."), 404)
        if not expires.isdigit() or int(expires) < self.market.now().timestamp():
            return None, JSONResponse(error_body("AccessDenied", "Request has expired"), 403)
        return document, None

    async def upload(self, request: Request) -> Response:
        document, refusal = self._presigned(request)
        if refusal:
            return refusal
        if request.headers.get("content-type", "") != document.content_type:
            message = f"Content-Type {request.headers.get('content-type')!r} does not match the document's {document.content_type!r}"
            return JSONResponse(error_body("SignatureDoesNotMatch", message), 403)
        content = await request.body()
        with self.market.lock:
            document.content = content
        return Response(status_code=200)

    async def download(self, request: Request) -> Response:
        document, refusal = self._presigned(request)
        if refusal:
            return refusal
        if document.content is None:
            return JSONResponse(error_body("NoSuchKey", "The document has no content yet."), 404)
        # gzip bytes go out as they are, never with Content-Encoding (httpx would unpack them twice)
        return Response(document.content, 200, headers={"Content-Type": document.content_type})

    # --- listings --------------------------------------------------------------------------

    def _listing(self, params):
        listing = self.market.state.listings.get(params["sku"]) if params["sellerId"] == self.market.seller_id else None
        if listing is None:
            raise ApiError(404, "NotFound", f"SKU '{params['sku']}' was not found for seller {params['sellerId']}.")
        return listing

    def get_listings_item(self, params, query, body):
        listing = self._listing(params)
        included = set(_csv(query, "includedData")) or {"summaries"}
        return 200, listing_json(listing, self.market.info.marketplace_id, included, self.market.now())

    def patch_listings_item(self, params, query, body):
        market = self.market
        listing = market.state.listings.get(params["sku"]) if params["sellerId"] == market.seller_id else None
        issues = check_patches(listing, params["sku"], body["productType"], body["patches"], market.info.marketplace_id, market.info.currency,
                               market.currencies())
        preview = query.get("mode", [""])[-1] == "VALIDATION_PREVIEW"
        if not issues and not preview:
            apply_patches(listing, body["patches"], market.now())
            market.listing_changed(listing.sku)
        status = "INVALID" if issues else ("VALID" if preview else "ACCEPTED")
        return 200, {"sku": params["sku"], "status": status, "submissionId": market.new_id("submission"),
                     "issues": [i.listing_json() for i in issues]}

    # --- orders ----------------------------------------------------------------------------

    def search_orders(self, params, query, body):
        market = self.market
        if query.get("paginationToken"):
            token = _decode_token(query["paginationToken"][-1])
            if token["expires"] < market.clock.elapsed():
                raise ApiError(400, "InvalidInput", "The pagination token has expired (tokens last 24 hours).")
            filters, after_key = token["filters"], tuple(token["after"])
            if token["query"] != _repeated(query):
                raise ApiError(400, "InvalidInput", "With a paginationToken, the other parameters must be those of the first "
                               "request (only maxResultsPerPage and includedData may change).")
        else:
            filters, after_key = self._order_filters(query), None
        size = int(query.get("maxResultsPerPage", ["100"])[-1])
        if not 1 <= size <= 100:
            raise ApiError(400, "InvalidInput", "maxResultsPerPage must be between 1 and 100.")
        field_name = "updated" if filters["field"] == "lastUpdated" else "created"
        ordered = market.orders_by(field_name)
        start = bisect.bisect_right(ordered, after_key) if after_key else bisect.bisect_left(ordered, (filters["after"], ""))
        matching = []
        for position in range(start, len(ordered)):
            key = ordered[position]
            if key[0] > filters["before"] or len(matching) > size:
                break
            order = market.state.orders[key[1]]
            if filters["statuses"] and order.status not in filters["statuses"]:
                continue
            if filters["by"] and order.fulfilled_by not in filters["by"]:
                continue
            if filters["markets"] and market.info_of(order).marketplace_id not in filters["markets"]:
                continue
            matching.append((key, order))
        page = matching[:size]
        included = set(_csv(query, "includedData"))
        answer: dict[str, Any] = {"orders": [market.order_view(o, included) for _, o in page]}
        if len(matching) > size:
            answer["pagination"] = {"nextToken": _encode_token(
                {"filters": filters, "after": list(page[-1][0]), "query": _repeated(query),
                 "expires": market.clock.elapsed() + TOKEN_LIFETIME_SECONDS})}
        answer["lastUpdatedBefore" if filters["field"] == "lastUpdated" else "createdBefore"] = filters["before"]
        return 200, answer

    def _order_filters(self, query) -> dict[str, Any]:
        created, updated = query.get("createdAfter"), query.get("lastUpdatedAfter")
        if bool(created) == bool(updated):
            raise ApiError(400, "InvalidInput", "Exactly one of createdAfter and lastUpdatedAfter must be specified.")
        field_name = "created" if created else "lastUpdated"
        latest = self.market.now() - timedelta(seconds=MIN_BEFORE_SECONDS)
        before_raw = query.get(f"{field_name}Before", [""])[-1]
        before = parse_iso(before_raw) if before_raw else latest
        if before > latest:
            raise ApiError(400, "InvalidInput", f"{field_name}Before must be at least 2 minutes before now ({iso(latest)}).")
        after = parse_iso((created or updated)[-1])
        if after >= before:
            raise ApiError(400, "InvalidInput", f"{field_name}After must be before {field_name}Before.")
        return {"field": field_name, "after": iso(after), "before": iso(before), "statuses": _csv(query, "fulfillmentStatuses"),
                "by": _csv(query, "fulfilledBy"), "markets": _csv(query, "marketplaceIds")}

    def get_order(self, params, query, body):
        order = self.market.state.orders.get(params["orderId"])
        if order is None:
            raise ApiError(404, "NotFound", f"Order {params['orderId']} was not found.")
        return 200, {"order": self.market.order_view(order, set(_csv(query, "includedData")))}

    def confirm_shipment(self, params, query, body):
        market = self.market
        order = market.state.orders.get(params["orderId"])
        record = {"orderId": params["orderId"], "body": body, "at": iso(market.now())}
        if order is None:
            market.state.confirmations.append({**record, "status": 404})
            raise ApiError(404, "NotFound", f"Order {params['orderId']} was not found.")
        try:
            realism = market.state.realism
            confirm_shipment(order, market.info_of(order), body, market.now(), realism.ship_date_checks, realism.ship_date_after_purchase)
        except ConfirmationRefused as exc:
            market.state.confirmations.append({**record, "status": 400, "error": str(exc)})
            raise ApiError(400, "InvalidInput", str(exc)) from None
        market.state.confirmations.append({**record, "status": 204})
        market.orders_changed(order)
        return 204, None

    # --- reports ---------------------------------------------------------------------------

    def get_reports(self, params, query, body):
        return 200, self._page_by_created(query, "reportTypes", "reports", self.market.state.reports.values(),
                                          lambda r: (r.report_type, "DONE"), lambda r: r.report_id)

    def _page_by_created(self, query, types_param: str, name: str, records, type_and_status, record_id) -> dict[str, Any]:
        """getFeeds / getReports: newest first, filtered by type, status and creation window (90 days
        by default), paged by an opaque nextToken that must come alone."""
        if query.get("nextToken"):
            filters = _decode_token(query["nextToken"][-1])
        else:
            filters = {"types": _csv(query, types_param), "statuses": _csv(query, "processingStatuses"),
                       "since": query.get("createdSince", [""])[-1], "until": query.get("createdUntil", [""])[-1],
                       "size": int(query.get("pageSize", ["10"])[-1]), "offset": 0}
            if not filters["types"]:
                raise ApiError(400, "InvalidInput", f"{types_param} is required unless nextToken is given.")
        if not 1 <= filters["size"] <= 100:
            raise ApiError(400, "InvalidInput", "pageSize must be between 1 and 100.")
        now = self.market.now()
        since = parse_iso(filters["since"]) if filters["since"] else now - timedelta(days=90)
        until = parse_iso(filters["until"]) if filters["until"] else now
        chosen = []
        for record in sorted(records, key=lambda r: (r.created, record_id(r)), reverse=True):
            kind, status = type_and_status(record)
            if kind in filters["types"] and since <= record.created <= until and (not filters["statuses"] or status in filters["statuses"]):
                chosen.append(record)
        offset, size = filters["offset"], filters["size"]
        answer: dict[str, Any] = {name: [r.as_json() for r in chosen[offset: offset + size]]}
        if offset + size < len(chosen):
            answer["nextToken"] = _encode_token({**filters, "offset": offset + size})
        return answer

    def get_report(self, params, query, body):
        report = self.market.state.reports.get(params["reportId"])
        if report is None:
            raise ApiError(404, "NotFound", f"Report {params['reportId']} was not found.")
        return 200, report.as_json()

    def get_report_document(self, params, query, body):
        document = self.market.state.documents.get(params["reportDocumentId"])
        if document is None or document.content is None:
            raise ApiError(404, "NotFound", f"Report document {params['reportDocumentId']} was not found.")
        answer = {"reportDocumentId": document.document_id, "url": self.market.url_for("downloads", document)}
        if document.compressed:
            answer["compressionAlgorithm"] = "GZIP"
        return 200, answer

    # --- admin -----------------------------------------------------------------------------

    async def admin(self, request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw) if raw else {}
        action, method = request.path_params["action"].strip("/"), request.method
        try:
            answer = admin.answer(self, action, method, body, dict(request.query_params))
        except KeyError as exc:
            return JSONResponse({"error": f"not found: {exc}"}, 404)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return Response(_dump(answer), 200, media_type="application/json")
