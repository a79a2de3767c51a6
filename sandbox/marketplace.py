"""The sandbox marketplace: one seller's listings, buyers and orders, feeds, documents and
settlement reports, moved forward by a simulated clock. Thread-safe: every change holds `lock`.
The parts live in market_feeds, market_orders and market_settlements; this module holds the state,
the clock, persistence, listings and notifications."""

from __future__ import annotations

import heapq
import pickle
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from omsync.sandbox import notifications, truth
from omsync.sandbox.clock import SimClock
from omsync.sandbox.listings import MAX_SKU_LENGTH, Listing
from omsync.sandbox.market_feeds import FeedsAndDocuments
from omsync.sandbox.market_orders import OrderIndex, Orders
from omsync.sandbox.market_settlements import Settlements
from omsync.sandbox.marketplaces import MARKETPLACES, MarketplaceInfo, marketplace, region_of
from omsync.sandbox.notifications import Notifications
from omsync.sandbox.offers import seeded_offers, seeded_price
from omsync.sandbox.orders import Buyer, SimOrder, cents
from omsync.sandbox.realism import SIMPLE, Realism
from omsync.sandbox.records import Document, Feed, Fault, Report
from omsync.sandbox.sqs import Sqs


@dataclass
class State:
    """Everything that --state persists."""

    seed: int
    marketplace_id: str
    seller_id: str
    settlement_days: float
    order_rate: float  # orders per simulated hour placed by buyers on their own
    elapsed: float = 0.0
    start: datetime | None = None
    listings: dict[str, Listing] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    order_numbers: int = 0
    auto_orders: int = 0
    buyers_seen: list[int] = field(default_factory=list)
    next_buyer: int = 0
    known_buyers: list[Buyer] = field(default_factory=list)
    documents: dict[str, Document] = field(default_factory=dict)
    feeds: dict[str, Feed] = field(default_factory=dict)
    reports: dict[str, Report] = field(default_factory=dict)
    settlements: int = 0
    last_settlement_end: datetime | None = None
    next_settlement_at: float = 0.0
    reserve: Decimal = Decimal(0)
    ids: int = 0
    due: list[tuple[float, int, str]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    confirmations: list[dict[str, Any]] = field(default_factory=list)
    fatal_feeds: int = 0
    realism: Realism = SIMPLE
    notifications: Notifications = field(default_factory=Notifications)
    grantless_tokens: set[str] = field(default_factory=set)  # LWA client_credentials tokens (notifications scope)
    settled_shipments: dict[str, str] = field(default_factory=dict)  # shipment id → settlement id (per-shipment payouts)
    payouts: list[dict[str, Any]] = field(default_factory=list)  # ground truth: what was paid when
    offered: list[truth.Offered] = field(default_factory=list)  # ground truth: what buyers saw, change by change

    def __setstate__(self, saved: dict[str, Any]) -> None:
        """A state saved by an older sandbox lacks the newer fields: they take their defaults."""
        fresh = State(saved["seed"], saved["marketplace_id"], saved["seller_id"], saved["settlement_days"], saved["order_rate"])
        self.__dict__.update({**fresh.__dict__, **saved})


class Marketplace(FeedsAndDocuments, Orders, Settlements):
    def __init__(self, seed: int = 0, time_scale: float = 1.0, marketplace_id: str = "ATVPDKIKX0DER",
                 seller_id: str = "A1OMSYNCDEMO", order_rate: float | None = None, settlement_days: float | None = None,
                 state_file: Path | None = None, realism: Realism | None = None) -> None:
        """`order_rate`, `settlement_days` and `realism` given now win over a saved --state (None keeps
        it, or the default: no orders of their own, 14 days, the SIMPLE marketplace)."""
        self.lock = threading.RLock()
        self.base_url = "http://127.0.0.1:8900"
        self.state_file = state_file
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.faults: dict[str, Fault] = {}
        self.response_violations: list[str] = []
        self._index: dict[str, OrderIndex] = {}
        self._changed_orders: set[str] = set()
        self._to_notify: set[str] = set()
        self._views: dict[tuple, tuple] = {}
        self.sqs: Sqs | None = None  # where ORDER_CHANGE notifications go (set by the server; None: they wait)
        loaded = self._load(state_file)
        if loaded:
            self.state = loaded
            self.clock = SimClock(time_scale, start=loaded.start)
            self.clock.advance(loaded.elapsed)
            if order_rate is not None and order_rate != loaded.order_rate:
                self.state.order_rate = order_rate
                self.state.auto_orders = int(loaded.elapsed * order_rate / 3600)  # the new rate counts from now
            if settlement_days is not None and settlement_days != loaded.settlement_days:
                self.state.settlement_days = settlement_days
                self.state.next_settlement_at = loaded.elapsed + settlement_days * 86400
        else:
            self.clock = SimClock(time_scale)
            settlement_days = 14.0 if settlement_days is None else settlement_days
            self.state = State(seed, marketplace_id, seller_id, settlement_days, order_rate or 0.0, start=self.clock.now())
            self.state.next_settlement_at = settlement_days * 86400
        if realism is not None:
            self.state.realism = realism
        self.info = marketplace(self.state.marketplace_id)
        self.fault_random = random.Random(f"{self.state.seed}:faults")

    # --- identity and persistence ----------------------------------------------------------

    @property
    def markets(self) -> list[MarketplaceInfo]:
        """The marketplaces the account sells in, the primary first."""
        return region_of(self.info) if self.state.realism.sell_in_region else [self.info]

    def info_of(self, order: SimOrder) -> MarketplaceInfo:
        return MARKETPLACES[order.marketplace_id] if order.marketplace_id else self.info

    def currencies(self) -> dict[str, str]:
        """marketplace id → currency of every marketplace the account sells in."""
        return {m.marketplace_id: m.currency for m in self.markets}

    @property
    def seller_id(self) -> str:
        return self.state.seller_id

    def new_id(self, kind: str) -> str:
        """Deterministic ids in Amazon's shapes."""
        self.state.ids += 1
        n, token = self.state.ids, uuid.uuid5(uuid.NAMESPACE_URL, f"omsync-sandbox:{self.state.seed}:{self.state.ids}")
        return {
            "feed": f"{50_000_000_000 + n}",
            "feed-doc": f"amzn1.tortuga.4.na.{token}",
            "report": f"{60_000_000_000 + n}",
            "report-doc": f"amzn1.spdoc.1.4.na.{token}",
            "submission": token.hex,
            "item": f"{(self.state.seed % 1000):03d}{n:011d}",
        }[kind]

    def _load(self, path: Path | None) -> State | None:
        if path is None or not path.exists():
            return None
        with path.open("rb") as handle:
            return pickle.load(handle)

    def save(self) -> None:
        """Write the state atomically to --state (a private pickle: only load files you wrote)."""
        if self.state_file is None:
            return
        with self.lock:
            self.state.elapsed = self.clock.elapsed()
            partial = self.state_file.with_suffix(".partial")
            with partial.open("wb") as handle:
                pickle.dump(self.state, handle, protocol=pickle.HIGHEST_PROTOCOL)
            partial.replace(self.state_file)

    def reset(self, seed: int | None = None, time_scale: float | None = None, order_rate: float | None = None,
              realism: Realism = SIMPLE) -> None:
        """A fresh marketplace (SIMPLE unless told otherwise); LWA tokens stay valid (clients cache them for an hour)."""
        with self.lock:
            tokens = self.state.tokens
            old = self.state
            self.clock = SimClock(time_scale or self.clock.time_scale)
            self.state = State(old.seed if seed is None else seed, old.marketplace_id, old.seller_id, old.settlement_days,
                               old.order_rate if order_rate is None else order_rate, start=self.clock.now())
            self.state.next_settlement_at = self.state.settlement_days * 86400
            self.state.tokens, self.state.realism, self.state.grantless_tokens = tokens, realism, old.grantless_tokens
            self._to_notify.clear()
            self.calls.clear()
            self.throttled.clear()
            self.faults.clear()
            self.response_violations.clear()
            self._index.clear()
            self._changed_orders.clear()
            self._views.clear()
            self.fault_random = random.Random(f"{self.state.seed}:faults")

    # --- the clock -------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.tick()

    def tick(self) -> None:
        """Do whatever simulated time has made due: buyers' orders, order steps, feeds, settlements.
        Feed documents are checked against the schema outside the lock, so calls are not held up."""
        with self.lock:
            elapsed = self.clock.elapsed()
            self._place_autonomous_orders(elapsed)
            self._step_orders(elapsed)
            due = self._feeds_due(elapsed)
        for feed in due:
            outcome = self._parse_feed(feed)
            with self.lock:
                self._finish_feed(feed, outcome)
        with self.lock:
            while elapsed >= self.state.next_settlement_at:
                self.issue_settlement()
                self.state.next_settlement_at += self.state.settlement_days * 86400
            self._publish_notifications(elapsed)
            due = notifications.due_messages(self.state.notifications, elapsed) if self.sqs else []
        if due:
            failed = self.sqs.send(due)
            with self.lock:
                for _, seq, arn, body in failed:
                    heapq.heappush(self.state.notifications.outbox, (elapsed + 60, seq, arn, body))

    def _publish_notifications(self, elapsed: float) -> None:
        """ORDER_CHANGE for the orders changed since the last call, as of simulated second `elapsed`."""
        if not self._to_notify:
            return
        state, realism = self.state, self.state.realism
        changed = [state.orders[i] for i in sorted(self._to_notify, key=lambda i: state.orders[i].number)]
        self._to_notify.clear()
        at = self.now() - timedelta(seconds=self.clock.elapsed() - elapsed)
        notifications.publish(state.notifications, changed, state.seller_id, lambda o: self.info_of(o).marketplace_id, at, elapsed,
                              state.seed, realism.notification_duplicate_share, realism.notification_late_share)

    # --- listings --------------------------------------------------------------------------

    def new_listing(self, sku: str, product_type: str, attributes: dict | None = None, title: str | None = None) -> Listing:
        r = random.Random(f"{self.state.seed}:asin:{sku}")
        now = self.now()
        return Listing(sku=sku, product_type=product_type,
                       asin="B0" + "".join(r.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=8)),
                       title=title or sku, created=now, updated=now, attributes=dict(attributes or {}))

    def add_listings(self, entries: list[dict[str, Any]]) -> int:
        """Admin: listings that already exist on Amazon (the seller's catalog), optionally with stock and price."""
        with self.lock:
            too_long = [e["sku"] for e in entries if len(e["sku"]) > MAX_SKU_LENGTH]
            if too_long:
                raise ValueError(f"Amazon holds no SKU over {MAX_SKU_LENGTH} characters: {too_long[0]!r}")
            state, realism, now = self.state, self.state.realism, self.now()
            for entry in entries:
                sku = entry["sku"]
                listing = state.listings.get(sku) or self.new_listing(sku, entry.get("productType", "PRODUCT"), title=entry.get("title"))
                channels = self._channels(sku, entry.get("fulfillment"))
                quantity = None if entry.get("quantity") is None else int(entry["quantity"])
                if channels != ("DEFAULT",) or quantity is not None:
                    fba_stock = random.Random(f"{state.seed}:fba-stock:{sku}").randint(0, 120)
                    only_fba = "DEFAULT" not in channels and quantity is not None
                    listing.attributes["fulfillment_availability"] = [
                        {"fulfillment_channel_code": c, "quantity": (quantity or 0) if c == "DEFAULT" else quantity if only_fba else fba_stock}
                        for c in channels]
                price = entry.get("price")
                if price is None and realism.seed_prices and "purchasable_offer" not in listing.attributes:
                    price = seeded_price(sku, state.seed)
                if price is not None:
                    offers: dict[str, list] = {}
                    for info in self.markets:  # each marketplace its own currency and price
                        local = Decimal(str(price)) if info is self.info else cents(Decimal(str(price)) / self.info.per_usd * info.per_usd)
                        for name, values in seeded_offers(sku, state.seed, info.marketplace_id, info.currency, local, realism, now).items():
                            offers.setdefault(name, []).extend(values)
                    listing.attributes.update(offers)
                state.listings[listing.sku] = listing
                self.listing_changed(sku)
            return len(entries)

    def listing_changed(self, sku: str) -> None:
        """Record what buyers now see of `sku` (the ground truth's series of changes)."""
        listing, elapsed = self.state.listings.get(sku), self.clock.elapsed()
        for info in self.markets:
            self.state.offered.append(truth.offered(listing, sku, info.marketplace_id, elapsed))

    def _channels(self, sku: str, asked: str | None) -> tuple[str, ...]:
        """How a SKU is fulfilled: as asked (MERCHANT, AMAZON, BOTH), else drawn by the realism shares."""
        fba = "AMAZON_NA" if self.info.country in ("US", "CA", "MX") else "AMAZON_EU"
        if asked is None:
            roll, realism = random.Random(f"{self.state.seed}:channel:{sku}").random(), self.state.realism
            asked = "AMAZON" if roll < realism.fba_share else "BOTH" if roll < realism.fba_share + realism.both_share else "MERCHANT"
        return {"MERCHANT": ("DEFAULT",), "AMAZON": (fba,), "BOTH": (fba, "DEFAULT")}[asked]
