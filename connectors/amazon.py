"""Amazon SP-API through python-amazon-sp-api, for real Amazon or the omsync sandbox.

Only the endpoint and the LWA host differ between the two (the library's supported hooks: a
marketplace object with `.endpoint`, and `auth_token_client_class`). On top of the library, which
neither paces nor retries: a client-side token bucket per operation (Amazon's documented plans,
adjusted by x-amzn-RateLimit-Limit), retries of 429/5xx/connection errors with capped
exponential backoff and full jitter, and small typed operations for the flows.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Sequence, TypeVar
from urllib.parse import urlsplit

import httpx
import polars as pl
from sp_api.api import Feeds, ListingsItems, Orders, Reports
from sp_api.auth import AccessTokenClient, access_token_client
from sp_api.auth._core import build_cache_key
from sp_api.base import Marketplaces
from sp_api.base.exceptions import SellingApiException
from sp_api.base._transport_httpx import HttpxTransport

from connectors.amazon_limits import JSON_LISTINGS_FEED_PLAN, USAGE_PLANS, TokenBucket
from omsync.errors import ConfigError, UserError
from omsync.settings import Settings

log = logging.getLogger("omsync.amazon")
T = TypeVar("T")
MAX_FEED_MESSAGES = 25_000
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
RETRIED_STATUSES = {429, 500, 502, 503, 504}
SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


class AmazonError(UserError):
    """An SP-API call failed; carries the operation, HTTP status, Amazon's code and request id."""

    def __init__(self, operation: str, status: int | None, code: str, message: str, request_id: str | None) -> None:
        self.operation, self.status, self.code, self.amazon_message, self.request_id = operation, status, code, message, request_id
        shown = f"Amazon {operation} failed"
        shown += f" with {status} {code}" if status else f": {code}"
        shown += f": {message}" if message else ""
        shown += f" (x-amzn-RequestId {request_id})" if request_id else ""
        super().__init__(shown)


class AmazonRejected(AmazonError):
    """Amazon refused the request (400, 403, 404, …): retrying the same request will not help."""


class AmazonUnavailable(AmazonError):
    """Throttling, server errors or the network outlasted every retry."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: anywhere between 0 and the capped exponential step."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass(frozen=True)
class SubmittedFeed:
    feed_id: str
    document_id: str
    first_message: int  # index in the caller's message list of this feed's messageId 1
    messages: int


@dataclass(frozen=True)
class FeedResult:
    feed_id: str
    status: str  # DONE, FATAL or CANCELLED
    report: dict[str, Any] | None


@dataclass(frozen=True)
class ReportDocument:
    content: bytes  # unpacked, still encoded
    charset: str | None  # as the download declared it


class _Call(threading.local):
    status: int | None = None
    request_id: str | None = None


def _sandbox_lwa(endpoint: str) -> type[AccessTokenClient]:
    parts = urlsplit(endpoint)

    class SandboxLWA(AccessTokenClient):
        scheme = f"{parts.scheme}://"
        host = parts.netloc

    return SandboxLWA


def _real_marketplace(marketplace_id: str) -> Marketplaces:
    for member in Marketplaces:
        if member.marketplace_id == marketplace_id:
            return member
    raise ConfigError(f"OMSYNC_MARKETPLACE_ID: {marketplace_id!r} is not an Amazon marketplace id")


class AmazonConnector:
    def __init__(self, settings: Settings, retry: RetryPolicy = RetryPolicy(), timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, seed: int | None = None) -> None:
        if not settings.lwa_app_id or not settings.lwa_client_secret or not settings.refresh_token:
            raise ConfigError("LWA_APP_ID, LWA_CLIENT_SECRET and SP_API_REFRESH_TOKEN must be set (any values work with the sandbox)")
        self.settings, self.retry, self.timeout, self._sleep = settings, retry, timeout, sleep
        self._random = random.Random(seed)
        self._buckets = {name: TokenBucket(rate, burst) for name, (rate, burst) in USAGE_PLANS.items()}
        self._feed_bucket = TokenBucket(*JSON_LISTINGS_FEED_PLAN)
        self._call = _Call()
        self._clients: dict[str, Any] = {}
        self._clock_offset: float | None = None  # Amazon's clock minus ours, from the Date header
        sandbox = settings.amazon_endpoint is not None
        # Loopback must never go through a proxy from the environment; real Amazon may need one.
        self._http = httpx.Client(timeout=timeout, trust_env=not sandbox, event_hooks={"response": [self._observe]})
        if sandbox:
            self._marketplace = SimpleNamespace(endpoint=settings.amazon_endpoint, marketplace_id=settings.marketplace_id, region="us-east-1")
            self._lwa = _sandbox_lwa(settings.amazon_endpoint)
        else:
            self._marketplace = _real_marketplace(settings.marketplace_id)
            self._lwa = AccessTokenClient

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "AmazonConnector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing --------------------------------------------------------------------------

    def _observe(self, response: httpx.Response) -> None:
        self._call.status = response.status_code
        self._call.request_id = response.headers.get("x-amzn-RequestId")
        if date := response.headers.get("Date"):
            try:
                self._clock_offset = email.utils.parsedate_to_datetime(date).timestamp() - time.time()
            except (TypeError, ValueError):
                pass
        log.debug("%s %s -> %s x-amzn-RequestId=%s", response.request.method, response.request.url.path,
                  response.status_code, self._call.request_id)

    def amazon_now(self) -> datetime:
        """Amazon's current time as its Date headers tell it (our clock may be off; the sandbox's runs fast)."""
        if self._clock_offset is None:
            try:  # any answer carries a Date; the endpoint's root costs no operation's quota
                self._http.get(self._marketplace.endpoint + "/")
            except httpx.TransportError:
                pass
        return datetime.fromtimestamp(time.time() + (self._clock_offset or 0.0), timezone.utc)

    def _client(self, kind: str) -> Any:
        if kind not in self._clients:
            credentials = {"refresh_token": self.settings.refresh_token.reveal(),
                           "lwa_app_id": self.settings.lwa_app_id,
                           "lwa_client_secret": self.settings.lwa_client_secret.reveal()}
            factory = {"feeds": lambda **kw: Feeds(**kw), "listings": lambda **kw: ListingsItems(**kw),
                       "orders": lambda **kw: Orders(version="2026-01-01", **kw), "orders_v0": lambda **kw: Orders(**kw),
                       "reports": lambda **kw: Reports(**kw)}[kind]
            client = factory(marketplace=self._marketplace, credentials=credentials, auth_token_client_class=self._lwa, timeout=self.timeout)
            client.endpoint = self._marketplace.endpoint  # SP_API_DEFAULT_MARKETPLACE must not redirect us
            client._transport = HttpxTransport(client=self._http)
            self._clients[kind] = client
        return self._clients[kind]

    def _paced(self, operation: str) -> None:
        wait = self._buckets[operation].reserve(time.monotonic())
        if wait > 0:
            self._sleep(wait)

    def _invoke(self, operation: str, call: Callable[[], T]) -> T:
        """One SP-API operation: paced, retried on 429/5xx/network errors, failing with a typed error."""
        last: AmazonError | None = None
        refreshed = False
        for attempt in range(self.retry.attempts):
            self._paced(operation)
            self._call.status = self._call.request_id = None
            try:
                result = call()
            except SellingApiException as exc:
                status = self._call.status
                error = (exc.error or [{}])[0] if isinstance(exc.error, list) else {}
                failure = (AmazonUnavailable if status in RETRIED_STATUSES else AmazonRejected)(
                    operation, status, error.get("code", type(exc).__name__), error.get("message", ""), self._call.request_id)
            except httpx.TransportError as exc:
                failure = AmazonUnavailable(operation, None, type(exc).__name__, "the connection failed", None)
            else:
                status = self._call.status
                if status is not None and status >= 400:
                    # The library returns an empty payload for an error without a JSON body.
                    kind = AmazonUnavailable if status in RETRIED_STATUSES else AmazonRejected
                    failure = kind(operation, status, "EmptyErrorBody", "Amazon answered an error without details", self._call.request_id)
                else:
                    self._adjust_rate(operation, result)
                    return result
            if isinstance(failure, AmazonRejected):
                if failure.status == 403 and failure.code == "Unauthorized" and not refreshed:
                    # The library caches access tokens process-wide for 53 minutes and never
                    # refreshes on 403; a revoked or foreign token would fail every call until then.
                    access_token_client.cache.pop(build_cache_key(self.settings.refresh_token.reveal()), None)
                    refreshed = True
                    continue
                raise failure
            last = failure
            delay = self.retry.delay(attempt, self._random)
            log.info("%s: %s; retry %d/%d in %.2f s", operation, failure.code, attempt + 1, self.retry.attempts - 1, delay)
            if attempt + 1 < self.retry.attempts:
                self._sleep(delay)
        assert last is not None
        advice = ("Amazon may be down or throttling this account" if last.status is not None else
                  f"nothing answers at {self.settings.amazon_endpoint or 'Amazon'}: check OMSYNC_AMAZON_ENDPOINT and the network"
                  + (" (is `omsync sandbox` running?)" if self.settings.amazon_endpoint else ""))
        raise AmazonUnavailable(last.operation, last.status, last.code,
                                f"still failing after {self.retry.attempts} attempts; {advice}", last.request_id)

    def _adjust_rate(self, operation: str, result: Any) -> None:
        try:
            rate = float(getattr(result, "rate_limit", None) or 0)
        except (TypeError, ValueError):
            return
        if rate <= 0:
            return
        self._buckets[operation].set_rate(rate)
        if operation == "createFeed":
            # Amazon states no rate for the per-feed-type plan; keep it in proportion to createFeed's.
            self._feed_bucket.set_rate(JSON_LISTINGS_FEED_PLAN[0] * rate / USAGE_PLANS["createFeed"][0])

    def _transfer(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A presigned document URL (S3, not SP-API): retried like any call, failing loudly."""
        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                last = exc
            else:
                if response.status_code < 300:
                    return response
                if response.status_code not in RETRIED_STATUSES:
                    raise AmazonRejected(f"document {method}", response.status_code, "DocumentTransferFailed", response.text[:200], None)
                last = AmazonUnavailable(f"document {method}", response.status_code, "DocumentTransferFailed", "", None)
            if attempt + 1 < self.retry.attempts:
                self._sleep(self.retry.delay(attempt, self._random))
        raise AmazonUnavailable(f"document {method}", None, type(last).__name__, "the document transfer kept failing", None)

    # --- feeds -----------------------------------------------------------------------------

    def submit_listings_feed(self, messages: pl.Series) -> list[SubmittedFeed]:
        """Send JSON listings-feed messages (JSON objects without messageId) in feeds of ≤ 25,000,
        numbering them 1…n within each feed. Every document is uploaded first, then the feeds are
        created at Amazon's pace (five per five minutes), so a large run never holds data back."""
        header = json.dumps({"sellerId": self.settings.seller_id, "version": "2.0", "issueLocale": "en_US"})
        uploaded = []
        for first in range(0, len(messages), MAX_FEED_MESSAGES):
            chunk = messages.slice(first, MAX_FEED_MESSAGES)
            numbered = pl.select(
                pl.concat_str([pl.lit('{"messageId":'), pl.int_range(1, len(chunk) + 1).cast(pl.String), pl.lit(","), chunk.str.slice(1)])
            ).to_series()
            document = f'{{"header":{header},"messages":[{numbered.str.join(",").item()}]}}'.encode("utf-8")
            created = self._invoke("createFeedDocument", lambda: self._client("feeds").create_feed_document(None, FEED_CONTENT_TYPE))
            self._transfer("PUT", created.payload["url"], content=document, headers={"Content-Type": FEED_CONTENT_TYPE})
            uploaded.append((created.payload["feedDocumentId"], first, len(chunk)))
        submitted = []
        for document_id, first, count in uploaded:
            wait = self._feed_bucket.reserve(time.monotonic())
            if wait > 0:
                log.info("JSON_LISTINGS_FEED: waiting %.0f s for Amazon's five-feeds-per-five-minutes plan", wait)
                self._sleep(wait)
            feed = self._invoke("createFeed", lambda: self._client("feeds").create_feed(
                "JSON_LISTINGS_FEED", document_id, marketplaceIds=[self.settings.marketplace_id]))
            submitted.append(SubmittedFeed(feed.payload["feedId"], document_id, first, count))
        return submitted

    def wait_for_feed(self, feed_id: str, timeout: float = 3600.0, poll: float = 1.0) -> FeedResult:
        """Poll getFeed until DONE, FATAL or CANCELLED; then fetch and parse the processing report."""
        deadline = time.monotonic() + timeout
        interval = poll
        while True:
            feed = self._invoke("getFeed", lambda: self._client("feeds").get_feed(feed_id)).payload
            status = feed["processingStatus"]
            if status in ("DONE", "FATAL", "CANCELLED"):
                break
            if time.monotonic() > deadline:
                raise AmazonUnavailable("getFeed", None, "Timeout", f"feed {feed_id} is still {status} after {timeout:.0f} s", None)
            self._sleep(interval)
            interval = min(interval * 1.5, 30.0)
        report = None
        if document_id := feed.get("resultFeedDocumentId"):
            document = self._document("feeds", document_id)
            report = json.loads(document.content.decode(document.charset or "utf-8"))
        return FeedResult(feed_id, status, report)

    def _document(self, api: str, document_id: str) -> ReportDocument:
        if api == "feeds":
            # The library's getFeedDocument downloads and decodes on its own (ISO-8859-1 when the
            # download names no charset); asking for the metadata alone keeps the bytes exact.
            meta = self._invoke("getFeedDocument", lambda: self._client("feeds")._request(
                f"/feeds/2021-06-30/documents/{document_id}", params={}, add_marketplace=False)).payload
        else:
            meta = self._invoke("getReportDocument", lambda: self._client("reports").get_report_document(document_id)).payload
        response = self._transfer("GET", meta["url"])
        content = response.content
        if meta.get("compressionAlgorithm") == "GZIP":
            content = gzip.decompress(content)
        return ReportDocument(content, response.charset_encoding)

    # --- listings --------------------------------------------------------------------------

    def patch_listings_item(self, sku: str, product_type: str, patches: list[dict[str, Any]]) -> dict[str, Any]:
        """One urgent change to one SKU; returns Amazon's submission (status ACCEPTED or INVALID, issues)."""
        return self._invoke("patchListingsItem", lambda: self._client("listings").patch_listings_item(
            self.settings.seller_id, sku, marketplaceIds=[self.settings.marketplace_id],
            body={"productType": product_type, "patches": patches})).payload

    def get_listings_item(self, sku: str, included_data: Sequence[str] = ("summaries",)) -> dict[str, Any]:
        return self._invoke("getListingsItem", lambda: self._client("listings").get_listings_item(
            self.settings.seller_id, sku, marketplaceIds=[self.settings.marketplace_id], includedData=",".join(included_data))).payload

    # --- orders ----------------------------------------------------------------------------

    def search_orders(self, last_updated_after: datetime, last_updated_before: datetime,
                      included_data: Sequence[str] = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES"),
                      page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every page of orders updated in [after, before], as Amazon returns them (orders, lastUpdatedBefore)."""
        query: dict[str, Any] = {"lastUpdatedAfter": _iso(last_updated_after), "lastUpdatedBefore": _iso(last_updated_before),
                                 "marketplaceIds": [self.settings.marketplace_id], "includedData": list(included_data),
                                 "maxResultsPerPage": page_size}
        while True:
            response = self._invoke("searchOrders", lambda: self._client("orders").search_orders(**query))
            yield response.payload
            if not response.next_token:  # the library moves pagination.nextToken out of the payload
                return
            query["paginationToken"] = response.next_token

    def get_order(self, order_id: str, included_data: Sequence[str] = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES")) -> dict[str, Any]:
        return self._invoke("getOrder", lambda: self._client("orders").get_order(order_id, includedData=list(included_data))).payload["order"]

    def confirm_shipment(self, order_id: str, package_detail: dict[str, Any]) -> None:
        """Tell Amazon one package shipped (204). A repeated packageReferenceId edits that package."""
        self._invoke("confirmShipment", lambda: self._client("orders_v0").confirm_shipment(
            order_id, marketplaceId=self.settings.marketplace_id, packageDetail=package_detail))

    # --- reports ---------------------------------------------------------------------------

    def list_settlement_reports(self, since: datetime) -> list[dict[str, Any]]:
        """Settlement reports Amazon made since `since` (Amazon keeps 90 days), oldest first."""
        reports: list[dict[str, Any]] = []
        query: dict[str, Any] = {"reportTypes": [SETTLEMENT_REPORT_TYPE], "processingStatuses": ["DONE"],
                                 "createdSince": _iso(since), "pageSize": 100, "marketplaceIds": [self.settings.marketplace_id]}
        while True:
            page = self._invoke("getReports", lambda: self._client("reports").get_reports(**query))
            reports += page.payload.get("reports", [])
            if not page.next_token:
                return sorted(reports, key=lambda r: (r["createdTime"], r["reportId"]))
            query = {"nextToken": page.next_token}  # Amazon wants the token alone

    def download_report(self, document_id: str) -> ReportDocument:
        """A report document's bytes, gunzipped when Amazon compressed it, with its declared charset."""
        return self._document("reports", document_id)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
