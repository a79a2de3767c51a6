"""Amazon's default usage plans per operation (rate per second, burst) and the token bucket that
enforces them: client-side in the connector, server-side in the sandbox."""

from __future__ import annotations

import threading

# From the usage-plan tables of Amazon's API references (https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits)
# and the usage-plan table in each operation's description in the models in sandbox/models/.
USAGE_PLANS: dict[str, tuple[float, int]] = {
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "cancelFeed": (2.0, 15),
    "getFeeds": (0.0222, 10),
    "getFeedDocument": (0.0222, 10),
    "getReports": (0.0222, 10),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "getListingsItem": (5.0, 10),
    "patchListingsItem": (5.0, 5),
    # notifications.json: every operation of the Notifications API has the same plan
    **{operation: (1.0, 5) for operation in (
        "getSubscriptions", "getSubscription", "createSubscription", "getSubscriptionById", "deleteSubscriptionById",
        "sendTestNotification", "getDestinations", "createDestination", "getDestination", "deleteDestination")},
}
# JSON_LISTINGS_FEED has a plan of its own on top of createFeed: five submissions per five minutes per
# region (Amazon's changelog "Update: Feed size and rate limit changes for the JSON_LISTINGS_FEED",
# 2025-05-06, https://developer-docs.amazon.com/sp-api/changelog; createFeed's description in
# sandbox/models/feeds_2021-06-30.json says the feed type's limit differs from the operation's).
JSON_LISTINGS_FEED_PLAN = (5 / 300, 5)


class TokenBucket:
    """`rate` tokens per second up to `burst`; time is whatever clock the caller passes as `now`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.updated: float | None = None
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        with self._lock:
            self._refill(now)
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False

    def reserve(self, now: float) -> float:
        """Spend one token, borrowing if needed; returns how long to wait before using it."""
        with self._lock:
            self._refill(now)
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self.rate = rate
