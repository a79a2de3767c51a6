"""Amazon SP-API through python-amazon-sp-api, for real Amazon or the omsync sandbox.

`transport` holds what every call shares (LWA, pacing, retries, typed errors, Amazon's clock); one
module per API holds its operations. `AmazonConnector` is what flows use: one account, one SP-API
region, and calls that name their marketplace (the account's first marketplace when they do not).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable, Iterator, Sequence

import polars as pl

from omsync.connectors.amazon.feeds import MAX_FEED_MESSAGES, FeedResult, FeedsApi, SubmittedFeed
from omsync.connectors.amazon.listings import ListingsApi
from omsync.connectors.amazon.notifications import Destination, NotificationSetup, NotificationsApi, Subscription
from omsync.connectors.amazon.orders import ORDER_DATA, OrdersApi
from omsync.connectors.amazon.reports import SETTLEMENT_REPORT_TYPE, ReportsApi
from omsync.connectors.amazon.transport import (AmazonError, AmazonRejected, AmazonTransport, AmazonUnavailable, ReportDocument,
                                         RetryPolicy)
from omsync.core.settings import Settings

__all__ = ["AmazonConnector", "AmazonError", "AmazonRejected", "AmazonUnavailable", "Destination", "FeedResult", "MAX_FEED_MESSAGES",
           "NotificationSetup", "ReportDocument", "RetryPolicy", "SETTLEMENT_REPORT_TYPE", "SubmittedFeed", "Subscription"]


class AmazonConnector:
    def __init__(self, settings: Settings, retry: RetryPolicy = RetryPolicy(), timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, seed: int | None = None) -> None:
        self.settings = settings
        self.transport = AmazonTransport(settings, retry, timeout, sleep, seed)
        self.feeds, self.listings = FeedsApi(self.transport), ListingsApi(self.transport)
        self.orders, self.reports = OrdersApi(self.transport), ReportsApi(self.transport)
        self.notifications = NotificationsApi(self.transport)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "AmazonConnector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _market(self, marketplace_id: str | None) -> str:
        return marketplace_id or self.settings.marketplace_id

    def amazon_now(self) -> datetime:
        """Amazon's current time as its Date headers tell it (our clock may be off; the sandbox's runs fast)."""
        return self.transport.amazon_now()

    # --- feeds -----------------------------------------------------------------------------

    def submit_listings_feed(self, messages: pl.Series, marketplace_id: str | None = None) -> list[SubmittedFeed]:
        """JSON listings-feed messages for one marketplace, in feeds of ≤ 25,000 (see FeedsApi)."""
        return self.feeds.submit_listings_feed(messages, self._market(marketplace_id))

    def wait_for_feed(self, feed_id: str, timeout: float = 3600.0, poll: float = 1.0) -> FeedResult:
        return self.feeds.wait_for_feed(feed_id, timeout, poll)

    # --- listings --------------------------------------------------------------------------

    def patch_listings_item(self, sku: str, product_type: str, patches: list[dict[str, Any]],
                            marketplace_id: str | None = None) -> dict[str, Any]:
        return self.listings.patch_listings_item(sku, product_type, patches, self._market(marketplace_id))

    def get_listings_item(self, sku: str, included_data: Sequence[str] = ("summaries",), marketplace_id: str | None = None) -> dict[str, Any]:
        return self.listings.get_listings_item(sku, self._market(marketplace_id), included_data)

    # --- orders ----------------------------------------------------------------------------

    def search_orders(self, last_updated_after: datetime, last_updated_before: datetime, included_data: Sequence[str] = ORDER_DATA,
                      page_size: int = 100, marketplace_ids: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """Orders of the given marketplaces (all of the account's when not given), page by page."""
        markets = marketplace_ids or self.settings.marketplace_ids
        return self.orders.search_orders(last_updated_after, last_updated_before, markets, included_data, page_size)

    def get_order(self, order_id: str, included_data: Sequence[str] = ORDER_DATA) -> dict[str, Any]:
        return self.orders.get_order(order_id, included_data)

    def confirm_shipment(self, order_id: str, package_detail: dict[str, Any], marketplace_id: str | None = None) -> None:
        self.orders.confirm_shipment(order_id, package_detail, self._market(marketplace_id))

    # --- reports ---------------------------------------------------------------------------

    def list_settlement_reports(self, since: datetime, marketplace_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return self.reports.list_settlement_reports(since, marketplace_ids or self.settings.marketplace_ids)

    def download_report(self, document_id: str) -> ReportDocument:
        return self.reports.download_report(document_id)

    # --- notifications ---------------------------------------------------------------------

    def subscribe_order_change(self, queue_arn: str) -> NotificationSetup:
        """ORDER_CHANGE to the SQS queue `queue_arn`, creating only the destination or subscription that is missing."""
        return self.notifications.subscribe_order_change(queue_arn)

    def notification_setup(self) -> NotificationSetup:
        """The application's destinations and the ORDER_CHANGE subscription, as they are."""
        return self.notifications.show()
