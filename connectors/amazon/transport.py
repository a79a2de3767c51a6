"""SP-API transport through python-amazon-sp-api: LWA, pacing, retries, typed errors and Amazon's clock.

Only the endpoint and the LWA host differ between real Amazon and the omsync sandbox (the library's
supported hooks: a marketplace object with `.endpoint`, and `auth_token_client_class`). On top of
the library, which neither paces nor retries: a client-side token bucket per operation (Amazon's
documented plans, adjusted by x-amzn-RateLimit-Limit), retries of 429/5xx/connection errors with
capped exponential backoff and full jitter. One transport serves one SP-API region (one endpoint,
one refresh token); each API module (feeds, listings, orders, reports) names the marketplace it
calls for.
"""

from __future__ import annotations

import email.utils
import gzip
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import httpx
from sp_api.api import Feeds, ListingsItems, Notifications, Orders, Reports
from sp_api.auth import AccessTokenClient, access_token_client
from sp_api.base import Marketplaces
from sp_api.base.exceptions import SellingApiException
from sp_api.base._transport_httpx import HttpxTransport

from omsync.connectors.amazon_limits import USAGE_PLANS, TokenBucket
from omsync.core.errors import ConfigError, UserError
from omsync.core.settings import Settings

log = logging.getLogger("omsync.amazon")
T = TypeVar("T")
RETRIED_STATUSES = {429, 500, 502, 503, 504}


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


_FACTORIES: dict[str, Callable[..., Any]] = {
    "feeds": lambda **kw: Feeds(**kw), "listings": lambda **kw: ListingsItems(**kw),
    "orders": lambda **kw: Orders(version="2026-01-01", **kw), "orders_v0": lambda **kw: Orders(**kw),
    "reports": lambda **kw: Reports(**kw), "notifications": lambda **kw: Notifications(**kw),
}


class AmazonTransport:
    """The account's connection to its SP-API region: every operation goes through `invoke`."""

    def __init__(self, settings: Settings, retry: RetryPolicy = RetryPolicy(), timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, seed: int | None = None) -> None:
        if not settings.lwa_app_id or not settings.lwa_client_secret or not settings.refresh_token:
            raise ConfigError("LWA_APP_ID, LWA_CLIENT_SECRET and SP_API_REFRESH_TOKEN must be set (any values work with the sandbox)")
        self.settings, self.retry, self.timeout, self.sleep = settings, retry, timeout, sleep
        self._random = random.Random(seed)
        self.buckets = {name: TokenBucket(rate, burst) for name, (rate, burst) in USAGE_PLANS.items()}
        self._call = _Call()
        self._clients: dict[str, Any] = {}
        self._clock_offset: float | None = None  # Amazon's clock minus ours, from the Date header
        sandbox = settings.amazon_endpoint is not None
        # Loopback must never go through a proxy from the environment; real Amazon may need one.
        self._http = httpx.Client(timeout=timeout, trust_env=not sandbox, event_hooks={"response": [self._observe]})
        home = settings.marketplaces[0].marketplace_id  # every marketplace of the account shares its region's endpoint
        if sandbox:
            self._marketplace = SimpleNamespace(endpoint=settings.amazon_endpoint, marketplace_id=home, region="us-east-1")
            self._lwa = _sandbox_lwa(settings.amazon_endpoint)
        else:
            self._marketplace = _real_marketplace(home)
            self._lwa = AccessTokenClient
        self.endpoint: str = self._marketplace.endpoint

    def close(self) -> None:
        self._http.close()

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
                self._http.get(self.endpoint + "/")
            except httpx.TransportError:
                pass
        return datetime.fromtimestamp(time.time() + (self._clock_offset or 0.0), timezone.utc)

    def client(self, kind: str) -> Any:
        """The library's client for one API (feeds, listings, orders, orders_v0, reports), made once."""
        if kind not in self._clients:
            credentials = {"refresh_token": self.settings.refresh_token.reveal(),
                           "lwa_app_id": self.settings.lwa_app_id,
                           "lwa_client_secret": self.settings.lwa_client_secret.reveal()}
            client = _FACTORIES[kind](marketplace=self._marketplace, credentials=credentials, auth_token_client_class=self._lwa,
                                      timeout=self.timeout)
            client.endpoint = self.endpoint  # SP_API_DEFAULT_MARKETPLACE must not redirect us
            # The library has no public way to hand it an HTTP client; ours observes every answer
            # (status, request id, Date) and keeps environment proxies away from the sandbox.
            client._transport = HttpxTransport(client=self._http)
            self._clients[kind] = client
        return self._clients[kind]

    def _paced(self, operation: str) -> None:
        wait = self.buckets[operation].reserve(time.monotonic())
        if wait > 0:
            self.sleep(wait)

    def invoke(self, operation: str, call: Callable[[], T]) -> T:
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
                    # Its public cache is emptied (other tokens in it are merely fetched again).
                    access_token_client.cache.clear()
                    refreshed = True
                    continue
                raise failure
            last = failure
            delay = self.retry.delay(attempt, self._random)
            log.info("%s: %s; retry %d/%d in %.2f s", operation, failure.code, attempt + 1, self.retry.attempts - 1, delay)
            if attempt + 1 < self.retry.attempts:
                self.sleep(delay)
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
        if rate > 0:
            self.buckets[operation].set_rate(rate)

    def transfer(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
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
                self.sleep(self.retry.delay(attempt, self._random))
        raise AmazonUnavailable(f"document {method}", None, type(last).__name__, "the document transfer kept failing", None)

    def download(self, document: dict[str, Any]) -> ReportDocument:
        """A feed or report document's bytes from its metadata (url, compressionAlgorithm), with its declared charset."""
        response = self.transfer("GET", document["url"])
        content = response.content
        if document.get("compressionAlgorithm") == "GZIP":
            content = gzip.decompress(content)
        return ReportDocument(content, response.charset_encoding)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
