"""The marketplace's feeds and documents: queueing, processing listings and order feeds, presigned URLs."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from omsync.sandbox.feeds import FeedOutcome, ParsedFeed, apply_listings_feed, fatal_outcome, parse_listings_feed
from omsync.sandbox import order_feeds
from omsync.sandbox.records import DOCUMENT_URL_SECONDS, Document, Feed


class FeedsAndDocuments:
    """Part of Marketplace: feeds wait in Amazon's queue, then apply; documents are uploaded and downloaded."""

    # --- feeds -----------------------------------------------------------------------------

    def create_feed(self, feed_type: str, document_id: str, marketplace_ids: list[str]) -> Feed:
        with self.lock:
            elapsed, r = self.clock.elapsed(), random.Random(f"{self.state.seed}:feed:{self.state.ids}")
            feed = Feed(self.new_id("feed"), feed_type, marketplace_ids, self.now(), document_id)
            feed.start_at = elapsed + self.state.realism.feed_wait(r, self.now().hour)
            if self.state.fatal_feeds > 0:
                self.state.fatal_feeds -= 1
                feed.fatal = True
            self.state.feeds[feed.feed_id] = feed
            return feed

    def _feeds_due(self, elapsed: float) -> list[Feed]:
        """Feeds whose processing ends by `elapsed`: one at a time in the order they were created (SIMPLE),
        or each after its own wait, so that a later feed can land before an earlier one (as on Amazon)."""
        if not self.state.realism.feeds_in_order:
            return self._feeds_due_each(elapsed)
        due, free_at = [], 0.0
        for feed in self.state.feeds.values():
            if feed.status in ("DONE", "FATAL", "CANCELLED"):
                free_at = max(free_at, feed.done_at)
                continue
            if feed.status == "IN_QUEUE":
                begin = max(feed.start_at, free_at)
                if elapsed < begin:
                    break
                feed.status, feed.started = "IN_PROGRESS", self.now()
                feed.done_at = begin + self._processing_seconds(feed)
            if elapsed < feed.done_at or feed.processing:
                break
            feed.processing = True
            due.append(feed)
            free_at = feed.done_at
        return due

    def _feeds_due_each(self, elapsed: float) -> list[Feed]:
        due = []
        for feed in self.state.feeds.values():
            if feed.status == "IN_QUEUE" and elapsed >= feed.start_at:
                feed.status, feed.started = "IN_PROGRESS", self.now()
                feed.done_at = feed.start_at + self._processing_seconds(feed)
            if feed.status == "IN_PROGRESS" and elapsed >= feed.done_at and not feed.processing:
                feed.processing = True
                due.append(feed)
        return sorted(due, key=lambda f: f.done_at)

    def _processing_seconds(self, feed: Feed) -> float:
        document = self.state.documents.get(feed.document_id)
        return 30 + len(document.content or b"") / 20_000 if document else 30.0  # about a minute for 25,000 messages

    def _parse_feed(self, feed: Feed) -> FeedOutcome | ParsedFeed:
        """The schema check of a due feed (no shared state is touched)."""
        document = self.state.documents.get(feed.document_id)
        content = document.content if document else None
        if feed.fatal:
            return fatal_outcome(feed.feed_id, self.seller_id, "An internal error stopped the processing of this feed.")
        if content is None:
            return fatal_outcome(feed.feed_id, self.seller_id, "The feed document was never uploaded.")
        if feed.feed_type == order_feeds.FEED_TYPE:
            acks = order_feeds.parse_acknowledgement_feed(content, self.seller_id)
            return self._xml_fatal(feed, acks) if isinstance(acks, str) else acks
        if feed.feed_type != "JSON_LISTINGS_FEED":
            return fatal_outcome(feed.feed_id, self.seller_id, f"{feed.feed_type} is not supported: listings feeds must be JSON_LISTINGS_FEED.")
        parsed = parse_listings_feed(content, self.seller_id)
        return fatal_outcome(feed.feed_id, self.seller_id, parsed) if isinstance(parsed, str) else parsed

    def _xml_fatal(self, feed: Feed, reason: str) -> FeedOutcome:
        report = order_feeds.processing_report(feed.feed_id, self.seller_id, 0, [("0", "Error", order_feeds.BAD_MESSAGE, reason, None)])
        return FeedOutcome("FATAL", report)

    def _finish_feed(self, feed: Feed, checked: FeedOutcome | ParsedFeed | list) -> None:
        """Apply the good messages and publish the processing report."""
        if isinstance(checked, list):  # order acknowledgements
            results = order_feeds.apply_acknowledgements(checked, self.state.orders, self.cancel_items)
            checked = FeedOutcome("DONE", order_feeds.processing_report(feed.feed_id, self.seller_id, len(checked), results))
        if isinstance(checked, FeedOutcome) and isinstance(checked.report, bytes):
            result = Document(self.new_id("feed-doc"), "text/xml; charset=UTF-8", checked.report)
            self.state.documents[result.document_id] = result
            feed.status, feed.ended, feed.result_document_id, feed.processing = checked.status, self.now(), result.document_id, False
            return
        outcome = checked if isinstance(checked, FeedOutcome) else apply_listings_feed(
            checked, feed.feed_id, self.seller_id, self.info.marketplace_id, self.info.currency,
            self.state.listings, self.new_listing, self.now(), self.currencies())
        if isinstance(checked, ParsedFeed):
            for sku in dict.fromkeys(m["sku"] for m in checked.messages if isinstance(m, dict) and isinstance(m.get("sku"), str)):
                self.listing_changed(sku)
        result = Document(self.new_id("feed-doc"), "application/json; charset=UTF-8", json.dumps(outcome.report).encode("utf-8"))
        self.state.documents[result.document_id] = result
        feed.status, feed.ended, feed.result_document_id, feed.processing = outcome.status, self.now(), result.document_id, False

    def cancel_feed(self, feed: Feed) -> bool:
        with self.lock:
            if feed.status != "IN_QUEUE":
                return False
            feed.status, feed.ended = "CANCELLED", self.now()
            return True

    # --- documents -------------------------------------------------------------------------

    def new_upload(self, content_type: str) -> Document:
        with self.lock:
            document = Document(self.new_id("feed-doc"), content_type)
            self.state.documents[document.document_id] = document
            return document

    def url_for(self, kind: str, document: Document) -> str:
        expires = int((self.now() + timedelta(seconds=DOCUMENT_URL_SECONDS * self.clock.time_scale)).timestamp())
        return f"{self.base_url}/_{kind}/{document.document_id}?X-Amz-Expires={expires}"
