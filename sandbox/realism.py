"""How hard the sandbox is. `SIMPLE` is the marketplace the flow tests were written against (every
SKU merchant-fulfilled, thin offers, quick feeds in order); `SELLER` looks like a real mid-size
seller's account (docs/sandbox.md gives the sources of each figure). `omsync sandbox` starts with
SELLER; the admin `reset` goes back to SIMPLE unless it is given a profile or settings."""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Realism:
    fba_share: float = 0.0  # seeded SKUs fulfilled by Amazon only (AMAZON_NA / AMAZON_EU)
    both_share: float = 0.0  # seeded SKUs with an FBA and a merchant-fulfilled offer
    sale_share: float = 0.0  # seeded offers with a sale price (discounted_price with a schedule)
    min_max_share: float = 0.0  # seeded offers with minimum/maximum seller-allowed prices
    b2b_share: float = 0.0  # seeded SKUs with a B2B audience offer and quantity discounts
    seed_prices: bool = False  # a SKU published without a price already has one on Amazon
    buyer_cancel_request_share: float = 0.0  # unshipped merchant orders whose buyer asks to cancel
    outside_share: float = 0.0  # merchant orders the seller ships in Seller Central (Buy Shipping)
    split_share: float = 0.0  # of those, shipped in two packages some hours apart
    ship_date_checks: bool = False  # confirmShipment refuses a shipDate in the future
    # … and one before the order was placed: off by default, because an OM simulator dates its
    # shipments in real time while the sandbox's simulated clock runs ahead of it
    ship_date_after_purchase: bool = False
    feed_queue_median_seconds: float = 40.0  # IN_QUEUE wait: log-normal around this median
    feed_queue_sigma: float = 0.0  # spread of the log-normal (0: uniform 20–60 s, as before)
    feed_peak_factor: float = 1.0  # waits are this many times longer in the evening peak (18–22 h)
    feeds_in_order: bool = True  # False: a feed that waits less may finish before an older one
    sell_in_region: bool = False  # the account also sells in the other marketplaces of its region (US+CA+MX, DE+FR+IT+ES+NL+UK)
    deferred_payouts: bool = False  # pay per shipment, held to delivery + 7 days (Amazon Business: 30–45 days)
    business_share: float = 0.0  # orders by Amazon Business buyers on invoice terms
    notification_duplicate_share: float = 0.0  # ORDER_CHANGE messages delivered twice
    notification_late_share: float = 0.0  # … delivered 5–60 simulated minutes late, after later changes

    def with_changes(self, changes: dict[str, Any]) -> Realism:
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown realism settings: {', '.join(unknown)}; known: {', '.join(known)}")
        typed = {k: (bool(v) if known[k] == "bool" else float(v)) for k, v in changes.items()}
        for name, value in typed.items():
            if name.endswith("_share") and not 0 <= value <= 1:
                raise ValueError(f"{name} is a share between 0 and 1, not {value}")
        return replace(self, **typed)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def feed_wait(self, r: random.Random, hour_of_day: int) -> float:
        """Simulated seconds a feed waits IN_QUEUE before Amazon starts processing it."""
        if self.feed_queue_sigma <= 0:
            return r.uniform(20.0, 60.0)
        wait = r.lognormvariate(math.log(self.feed_queue_median_seconds), self.feed_queue_sigma)
        return wait * (self.feed_peak_factor if 18 <= hour_of_day < 22 else 1.0)


SIMPLE = Realism()
SELLER = Realism(
    fba_share=0.25, both_share=0.10, sale_share=0.15, min_max_share=0.30, b2b_share=0.10, seed_prices=True,
    buyer_cancel_request_share=0.02, outside_share=0.05, split_share=0.30, ship_date_checks=True,
    feed_queue_median_seconds=15 * 60, feed_queue_sigma=0.8, feed_peak_factor=4.0, feeds_in_order=False,
    notification_duplicate_share=0.03, notification_late_share=0.05, deferred_payouts=True, business_share=0.05,
    sell_in_region=True,
)
PROFILES = {"simple": SIMPLE, "seller": SELLER}


def profile(name: str) -> Realism:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}: use one of {', '.join(PROFILES)}") from None
