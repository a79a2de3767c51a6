"""Feeds API 2021-06-30: JSON_LISTINGS_FEED submissions and their processing reports."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import polars as pl

from omsync.connectors.amazon.transport import AmazonTransport, AmazonUnavailable, ReportDocument
from omsync.connectors.amazon_limits import JSON_LISTINGS_FEED_PLAN, USAGE_PLANS, TokenBucket

log = logging.getLogger("omsync.amazon")
MAX_FEED_MESSAGES = 25_000
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"


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


class FeedsApi:
    def __init__(self, transport: AmazonTransport) -> None:
        self.transport = transport
        self._feed_bucket = TokenBucket(*JSON_LISTINGS_FEED_PLAN)

    def submit_listings_feed(self, messages: pl.Series, marketplace_id: str) -> list[SubmittedFeed]:
        """Send JSON listings-feed messages (JSON objects without messageId) for one marketplace in feeds
        of ≤ 25,000, numbering them 1…n within each feed. Every document is uploaded first, then the
        feeds are created at Amazon's pace (five per five minutes), so a large run never holds data back."""
        t = self.transport
        header = json.dumps({"sellerId": t.settings.seller_id, "version": "2.0", "issueLocale": "en_US"})
        uploaded = []
        for first in range(0, len(messages), MAX_FEED_MESSAGES):
            chunk = messages.slice(first, MAX_FEED_MESSAGES)
            numbered = pl.select(
                pl.concat_str([pl.lit('{"messageId":'), pl.int_range(1, len(chunk) + 1).cast(pl.String), pl.lit(","), chunk.str.slice(1)])
            ).to_series()
            document = f'{{"header":{header},"messages":[{numbered.str.join(",").item()}]}}'.encode("utf-8")
            created = t.invoke("createFeedDocument", lambda: t.client("feeds").create_feed_document(None, FEED_CONTENT_TYPE))
            t.transfer("PUT", created.payload["url"], content=document, headers={"Content-Type": FEED_CONTENT_TYPE})
            uploaded.append((created.payload["feedDocumentId"], first, len(chunk)))
        submitted = []
        for document_id, first, count in uploaded:
            # Amazon states no rate for the per-feed-type plan; keep it in proportion to createFeed's.
            self._feed_bucket.set_rate(JSON_LISTINGS_FEED_PLAN[0] * t.buckets["createFeed"].rate / USAGE_PLANS["createFeed"][0])
            wait = self._feed_bucket.reserve(time.monotonic())
            if wait > 0:
                log.info("JSON_LISTINGS_FEED: waiting %.0f s for Amazon's five-feeds-per-five-minutes plan", wait)
                t.sleep(wait)
            feed = t.invoke("createFeed", lambda: t.client("feeds").create_feed(
                "JSON_LISTINGS_FEED", document_id, marketplaceIds=[marketplace_id]))
            submitted.append(SubmittedFeed(feed.payload["feedId"], document_id, first, count))
        return submitted

    def wait_for_feed(self, feed_id: str, timeout: float = 3600.0, poll: float = 1.0) -> FeedResult:
        """Poll getFeed until DONE, FATAL or CANCELLED; then fetch and parse the processing report."""
        t = self.transport
        deadline = time.monotonic() + timeout
        interval = poll
        while True:
            feed = t.invoke("getFeed", lambda: t.client("feeds").get_feed(feed_id)).payload
            status = feed["processingStatus"]
            if status in ("DONE", "FATAL", "CANCELLED"):
                break
            if time.monotonic() > deadline:
                raise AmazonUnavailable("getFeed", None, "Timeout", f"feed {feed_id} is still {status} after {timeout:.0f} s", None)
            t.sleep(interval)
            interval = min(interval * 1.5, 30.0)
        report = None
        if document_id := feed.get("resultFeedDocumentId"):
            document = self._document(document_id)
            report = json.loads(document.content.decode(document.charset or "utf-8"))
        return FeedResult(feed_id, status, report)

    def _document(self, document_id: str) -> ReportDocument:
        t = self.transport
        # The library's getFeedDocument downloads and decodes on its own (ISO-8859-1 when the
        # download names no charset) and has no metadata-only form; its generic request keeps
        # the bytes exact.
        meta = t.invoke("getFeedDocument", lambda: t.client("feeds")._request(
            f"/feeds/2021-06-30/documents/{document_id}", params={}, add_marketplace=False)).payload
        return t.download(meta)
