"""The sandbox marketplace: one seller's listings, buyers and orders, feeds, documents and
settlement reports, moved forward by a simulated clock. Thread-safe: every change holds `lock`."""

from __future__ import annotations

import bisect
import gzip
import json
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
from typing import Any, Iterable

from sandbox.clock import SimClock, iso
from sandbox.feeds import FeedOutcome, ParsedFeed, apply_listings_feed, fatal_outcome, parse_listings_feed
from sandbox.listings import FBA_CHANNELS, MAX_SKU_LENGTH, Listing
from sandbox.offers import seeded_offers, seeded_price
from sandbox.realism import SIMPLE, Realism
from sandbox.marketplaces import MARKETPLACES, MarketplaceInfo, marketplace, region_of
from sandbox.orders import Buyer, OrderLine, Package, SimOrder, cents, make_buyer, order_id_for, order_json, settle_shipment
from sandbox import notifications, order_feeds, payouts, settlement_report, truth
from sandbox.notifications import Notifications
from sandbox.sqs import Sqs

BASKET_SIZES = [1, 1, 1, 2, 2, 3]  # lines per order, drawn at random
PENDING_SECONDS = (300.0, 1800.0)  # until payment is authorised
AFN_SHIP_SECONDS = (7200.0, 43200.0)
DOCUMENT_URL_SECONDS = 300.0  # presigned URLs expire after five minutes of the client's (real) time
SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


@dataclass
class Document:
    document_id: str
    content_type: str
    content: bytes | None = None
    compressed: bool = False


@dataclass
class Feed:
    feed_id: str
    feed_type: str
    marketplace_ids: list[str]
    created: datetime
    document_id: str
    status: str = "IN_QUEUE"
    start_at: float = 0.0
    done_at: float = 0.0
    started: datetime | None = None
    ended: datetime | None = None
    result_document_id: str | None = None
    fatal: bool = False
    processing: bool = False

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"feedId": self.feed_id, "feedType": self.feed_type, "marketplaceIds": self.marketplace_ids,
                                 "createdTime": iso(self.created), "processingStatus": self.status}
        if self.started:
            shown["processingStartTime"] = iso(self.started)
        if self.ended:
            shown["processingEndTime"] = iso(self.ended)
        if self.result_document_id:
            shown["resultFeedDocumentId"] = self.result_document_id
        return shown


@dataclass
class Report:
    report_id: str
    report_type: str
    marketplace_ids: list[str]
    data_start: datetime
    data_end: datetime
    created: datetime
    document_id: str

    def as_json(self) -> dict[str, Any]:
        return {"reportId": self.report_id, "reportType": self.report_type, "marketplaceIds": self.marketplace_ids,
                "dataStartTime": iso(self.data_start), "dataEndTime": iso(self.data_end), "createdTime": iso(self.created),
                "processingStatus": "DONE", "processingStartTime": iso(self.created), "processingEndTime": iso(self.created),
                "reportDocumentId": self.document_id}


@dataclass
class Fault:
    throttle: float = 0.0
    error500: float = 0.0
    error503: float = 0.0
    drop: float = 0.0
    latency_ms: float = 0.0
    lost_reply: float = 0.0  # share of requests applied whose answer is cut off (the client cannot know it worked)


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


class OrderIndex:
    """(ISO time, order id) of orders sorted by one of their timestamps."""

    def __init__(self, field_name: str, orders: Iterable[SimOrder]) -> None:
        self.field_name = field_name
        self.key_of = {o.order_id: (iso(getattr(o, field_name)), o.order_id) for o in orders}
        self.keys = sorted(self.key_of.values())

    def refile(self, order: SimOrder) -> None:
        key = (iso(getattr(order, self.field_name)), order.order_id)
        old = self.key_of.get(order.order_id)
        if old == key:
            return
        if old is not None:
            del self.keys[bisect.bisect_left(self.keys, old)]
        bisect.insort(self.keys, key)
        self.key_of[order.order_id] = key


class Marketplace:
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

    # --- orders ----------------------------------------------------------------------------

    def place_orders(self, count: int, fulfilled_by: str | None = None, skus: list[str] | None = None,
                     basket_sizes: list[int] | None = None) -> list[str]:
        """Buyers place `count` orders now, for listed SKUs with a price (and stock, if merchant-fulfilled),
        each with as many lines as one of `basket_sizes` drawn at random says."""
        if basket_sizes is not None and (not basket_sizes or min(basket_sizes) < 1):
            raise ValueError("basket sizes must be a non-empty list of positive line counts")
        with self.lock:
            candidates = [self.state.listings[s] for s in skus if s in self.state.listings] if skus else self.state.listings.values()
            now, market_id = self.now(), self.info.marketplace_id
            priced = [l for l in candidates if l.buyer_price(market_id, now)]
            in_stock = [l for l in priced if (l.quantity() or 0) > 0]
            # Amazon ships what its fulfillment centres hold; a marketplace without FBA listings (SIMPLE)
            # lets Amazon fulfil any priced listing, as the sandbox always did.
            has_fba = any(l.fba_quantity() is not None for l in candidates)
            fba_stock = [l for l in priced if (l.fba_quantity() or 0) > 0] if has_fba else priced
            placed = []
            for _ in range(count):
                order = self._place_order(fulfilled_by, fba_stock, in_stock, basket_sizes or BASKET_SIZES)
                if order is None:
                    break
                placed.append(order.order_id)
            self._publish_notifications(self.clock.elapsed())
            return placed

    def _place_order(self, fulfilled_by: str | None, priced: list[Listing], in_stock: list[Listing], basket_sizes: list[int]) -> SimOrder | None:
        """One buyer's order from `priced` listings (Amazon-fulfilled) or `in_stock` ones (merchant),
        taking the stock it buys; a listing that sells out leaves `in_stock`."""
        state = self.state
        number = state.order_numbers + 1
        r = random.Random(f"{state.seed}:order:{number}")
        channel = fulfilled_by or ("AMAZON" if r.random() < 0.2 else "MERCHANT")
        orderable = priced if channel == "AMAZON" else in_stock
        info, now = self._market_for(number), self.now()
        if info is not self.info:
            orderable = [l for l in orderable if l.buyer_price(info.marketplace_id, now)]
        if not orderable:
            return None
        state.order_numbers = number
        picked = r.sample(orderable, k=min(len(orderable), r.choice(basket_sizes)))
        now, elapsed = self.now(), self.clock.elapsed()
        lines = []
        for listing in sorted(picked, key=lambda l: l.sku):
            quantity = r.choice([1, 1, 1, 1, 2, 2, 3])
            if channel == "MERCHANT":
                quantity = min(quantity, listing.quantity() or 0)
                listing.set_quantity((listing.quantity() or 0) - quantity)
                if listing.quantity() == 0:
                    in_stock.remove(listing)
            elif listing.fba_quantity() is not None:
                quantity = min(quantity, listing.fba_quantity())
                listing.take_fba(quantity)
                if listing.fba_quantity() == 0:
                    priced.remove(listing)
            self.listing_changed(listing.sku)
            price = listing.buyer_price(info.marketplace_id, now) or Decimal(0)
            shipping = Decimal("4.99") if r.random() < 0.4 else Decimal(0)
            discount = cents(price * quantity * Decimal("0.10")) if r.random() < 0.15 else Decimal(0)
            lines.append(OrderLine(self.new_id("item"), listing.sku, listing.asin, listing.title, quantity, price, shipping,
                                   cents(price * quantity * info.tax_rate), cents(shipping * info.tax_rate), discount))
        order = SimOrder(order_id_for(state.seed, number), number, now, now, channel, "PENDING",
                         self._choose_buyer(r, channel), lines, due=elapsed + r.uniform(*PENDING_SECONDS))
        roll = r.random()
        order.cancel_before_release, order.cancel_after_release = roll < 0.03, 0.03 <= roll < 0.045 and channel == "MERCHANT"
        realism = state.realism
        order.marketplace_id = None if info is self.info else info.marketplace_id
        order.business = bool(realism.business_share) and r.random() < realism.business_share
        if channel == "MERCHANT" and not order.cancel_before_release and realism.buyer_cancel_request_share:
            # a buyer of an unshipped order asks; Amazon no longer cancels for them (the seller must act)
            order.cancel_after_release = False
            order.wants_cancel = r.random() < realism.buyer_cancel_request_share
            order.outside = not order.wants_cancel and r.random() < realism.outside_share
            order.split = order.outside and r.random() < realism.split_share and sum(l.quantity for l in lines) > 1
        elif channel == "MERCHANT" and realism.outside_share:
            order.outside = r.random() < realism.outside_share
            order.split = order.outside and r.random() < realism.split_share and sum(l.quantity for l in lines) > 1
        state.orders[order.order_id] = order
        heapq.heappush(state.due, (order.due, number, order.order_id))
        self.orders_changed(order)
        return order

    def _market_for(self, number: int) -> MarketplaceInfo:
        """Where order `number` is placed: mostly the primary marketplace, the rest spread over the others."""
        markets = self.markets
        if len(markets) == 1:
            return markets[0]
        r = random.Random(f"{self.state.seed}:market:{number}")
        return markets[0] if r.random() < 0.75 else r.choice(markets[1:])

    def _choose_buyer(self, r: random.Random, channel: str) -> Buyer | None:
        state = self.state
        if channel == "AMAZON" and r.random() < 0.9:
            return None  # Amazon-fulfilled orders usually carry no buyer identity
        if state.known_buyers and r.random() < 0.2:
            return r.choice(state.known_buyers)
        if state.buyers_seen and r.random() < 0.35:
            return make_buyer(state.seed, r.choice(state.buyers_seen), self.info.country)
        state.next_buyer += 1
        state.buyers_seen.append(state.next_buyer)
        return make_buyer(state.seed, state.next_buyer, self.info.country)

    def _place_autonomous_orders(self, elapsed: float) -> None:
        expected = int(elapsed * self.state.order_rate / 3600)
        due = min(expected - self.state.auto_orders, 1000)
        if due > 0:
            self.state.auto_orders += due
            self.place_orders(due)

    def _step_orders(self, elapsed: float) -> None:
        state = self.state
        # Steps chain from when the previous one was due, so a long advance runs a whole life cycle;
        # lastUpdatedTime is when a change became visible, never earlier (searchOrders relies on it).
        while state.due and state.due[0][0] <= elapsed:
            due, number, order_id = heapq.heappop(state.due)
            order = state.orders[order_id]
            self.orders_changed(order)
            r = random.Random(f"{state.seed}:step:{number}:{order.status}")
            self._step(order, due, number, r)
            self._publish_notifications(due)  # each step is a change of its own, however long the advance

    def _step(self, order: SimOrder, due: float, number: int, r: random.Random) -> None:
        """One life-cycle step of an order, due at simulated second `due`."""
        state, order_id = self.state, order.order_id
        if order.next_step:
            self._event(order, order.next_step, due, r)
        elif order.status == "PENDING":
            if order.cancel_before_release:
                self._cancel(order)
                return
            order.status, order.updated = "UNSHIPPED", self.now()
            if order.fulfilled_by == "AMAZON":
                order.due = due + r.uniform(*AFN_SHIP_SECONDS)
            elif order.wants_cancel:
                order.due, order.next_step = due + r.uniform(3600, 12 * 3600), "buyer asks to cancel"
            elif order.outside:
                order.due, order.next_step = due + r.uniform(2 * 3600, 20 * 3600), "seller buys shipping"
            elif order.cancel_after_release:
                order.due = due + r.uniform(3600, 6 * 3600)
            else:
                return
            heapq.heappush(state.due, (order.due, number, order_id))
        elif order.status == "UNSHIPPED" and order.fulfilled_by == "AMAZON":
            for line in order.lines:
                line.shipped = line.quantity
            order.status, order.updated = "SHIPPED", self.now()
            order.afn_shipped = self.now() - timedelta(seconds=self.clock.elapsed() - due)
        elif order.status == "UNSHIPPED" and order.cancel_after_release:
            self._cancel(order)

    def _event(self, order: SimOrder, step: str, due: float, r: random.Random) -> None:
        """A SELLER life-cycle event; one the order has outgrown (shipped or cancelled meanwhile) lapses."""
        order.next_step = None
        now = self.now()
        if order.status not in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
            return
        if step == "buyer asks to cancel" and order.status == "UNSHIPPED":
            order.cancel_requested, order.updated = now, now
            order.cancel_request_reason = r.choice(["Order placed by mistake", "Found a better price", "Delivery too slow", "No longer needed"])
        elif step in ("seller buys shipping", "second package"):
            open_lines = [l for l in order.lines if not l.cancelled and l.shipped < l.quantity]
            if not open_lines:
                return
            first = step == "seller buys shipping" and order.split
            items = {open_lines[0].order_item_id: 1} if first and len(open_lines) == 1 else \
                {l.order_item_id: l.quantity - l.shipped for l in (open_lines[:1] if first else open_lines)}
            reference = str(len(order.packages) + 1)
            shipped = now - timedelta(seconds=self.clock.elapsed() - due)  # when it was due, however long the advance
            order.packages[reference] = Package(reference, "UPS", None, "UPS Ground", f"1ZBUY{order.number:07d}{reference}", iso(shipped),
                                                items, shipped, shipped_by="BUY_SHIPPING", late=shipped > order.latest_ship)
            settle_shipment(order, now)
            if first:
                order.due, order.next_step = due + r.uniform(4 * 3600, 30 * 3600), "second package"
                heapq.heappush(self.state.due, (order.due, order.number, order.order_id))

    def cancel_items(self, order: SimOrder, lines: list[tuple[OrderLine, str]], reason: str) -> None:
        """The seller cancels these items (all of them: the order)."""
        now = self.now()
        for line, item_reason in lines:
            line.cancelled, line.cancel_reason = True, item_reason or reason
        if all(l.cancelled for l in order.lines):
            self._cancel(order, "MERCHANT", reason)
        else:
            if any(l.shipped for l in order.lines):
                settle_shipment(order, now)
            order.updated = now
            self.orders_changed(order)

    def _cancel(self, order: SimOrder, by: str | None = None, reason: str | None = None) -> None:
        order.status, order.updated = "CANCELLED", self.now()
        order.cancelled_by, order.cancel_reason = by, reason
        self.orders_changed(order)

    def order_view(self, order: SimOrder, included: set[str]) -> dict[str, Any]:
        """The order as the Orders API shows it, built once per version of the order (a page of a
        large search would otherwise rebuild thousands of them)."""
        key = (order.order_id, frozenset(included))
        cached = self._views.get(key)
        version = (order.updated, order.status, len(order.packages))
        if cached is None or cached[0] != version:
            cached = self._views[key] = (version, order_json(order, self.info_of(order), included))
        return cached[1]

    def orders_changed(self, order: SimOrder) -> None:
        """An order was placed or changed: searchOrders' indexes re-file it at the next search, and an
        ORDER_CHANGE is published at the next tick if it changed in a way Amazon notifies."""
        self._changed_orders.add(order.order_id)
        self._to_notify.add(order.order_id)

    def orders_by(self, field_name: str) -> list[tuple[str, str]]:
        """(time, order id) of every order sorted by `created` or `updated`: searchOrders' index, kept
        in order one changed order at a time (re-sorting 100,000 orders per page would make the
        sandbox, not the client, the bottleneck of a large import)."""
        with self.lock:
            for order_id in self._changed_orders:
                for index in self._index.values():
                    index.refile(self.state.orders[order_id])
            self._changed_orders.clear()
            if field_name not in self._index:
                self._index[field_name] = OrderIndex(field_name, self.state.orders.values())
            return self._index[field_name].keys  # read under the lock the API handlers hold

    def cancel_order(self, order_id: str) -> SimOrder:
        """Admin: the buyer cancels now (refused once anything shipped, as on Amazon)."""
        with self.lock:
            order = self.state.orders[order_id]
            if order.status in ("SHIPPED", "PARTIALLY_SHIPPED"):
                raise ValueError(f"order {order_id} has shipped and can no longer be cancelled")
            self._cancel(order)
            return order

    def request_cancel(self, order_id: str, reason: str) -> SimOrder:
        """Admin: the buyer asks to cancel an unshipped merchant order; it waits for the seller."""
        with self.lock:
            order = self.state.orders[order_id]
            if order.fulfilled_by != "MERCHANT" or order.status != "UNSHIPPED":
                raise ValueError(f"order {order_id} is {order.status} ({order.fulfilled_by}); only an unshipped merchant order can be asked to cancel")
            order.cancel_requested, order.cancel_request_reason = self.now(), reason
            order.updated = self.now()
            self.orders_changed(order)
            return order

    def request_refund(self, order_id: str, kind: str) -> SimOrder:
        """Admin: Amazon refunds a settled order in the next settlement (kind: Refund, A-to-z Guarantee Refund, …)."""
        with self.lock:
            order = self.state.orders[order_id]
            if order.settled_in is None:
                raise ValueError(f"order {order_id} has not been settled yet; only a settled order can be refunded")
            order.refund_requested = kind
            return order

    def add_known_buyers(self, buyers: list[dict[str, Any]]) -> int:
        """Admin: people who also buy on Amazon (e.g. existing OM customers), to exercise customer matching."""
        with self.lock:
            for b in buyers:
                relay = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.state.seed}:{b['name']}:{b['postalCode']}").hex[:15]
                self.state.known_buyers.append(Buyer(b["name"], b.get("email") or f"{relay}@marketplace.amazon.com",
                                                     b["address1"], b.get("address2"), b["city"], b.get("region", ""),
                                                     b["postalCode"], b.get("country", self.info.country), b.get("phone", "")))
            return len(buyers)

    # --- settlements -----------------------------------------------------------------------

    def issue_settlement(self, compress: bool = True) -> Report:
        """Close the settlement period now, one report per marketplace of the account (the primary's is
        returned): shipped orders, refunds of earlier ones, and the account's fees and reserve in the primary's."""
        with self.lock:
            now = self.now()
            start = self.state.last_settlement_end or self.state.start or now
            reports = [self._settle(info, start, now, compress) for info in self.markets]
            self.state.last_settlement_end = now
            return reports[0]

    def _settle(self, info: MarketplaceInfo, start: datetime, now: datetime, compress: bool) -> Report:
        state, primary = self.state, info is self.info
        state.settlements += 1
        settlement_id = f"{(state.seed % 1000):03d}{state.settlements:08d}"
        settlement = settlement_report.Settlement(settlement_id, start, now, now + timedelta(days=3), info.currency)
        principal = Decimal(0)
        deferred = state.realism.deferred_payouts
        for order in sorted(state.orders.values(), key=lambda o: o.number):
            if self.info_of(order) is not info:
                continue
            if deferred and order.settled_in is None:
                principal += self._settle_shipments(order, info, settlement, now)
            elif order.status == "SHIPPED" and order.settled_in is None:
                lines = settlement_report.order_lines(order, info, order.updated)
                settlement.lines += lines
                state.payouts.append({"orderId": order.order_id, "shipmentId": None, "settlementId": settlement_id,
                                      "shippedAt": iso(order.updated), "releasedAt": iso(order.updated), "reason": None,
                                      "paidAt": iso(now), "amount": str(sum((l.amount for l in lines), Decimal(0)))})
                principal += sum((l.unit_price * l.quantity for l in order.lines if not l.cancelled), Decimal(0))
                order.settled_in = settlement_id
            elif order.settled_in and order.settled_in != settlement_id and order.refunded_in is None:
                r = random.Random(f"{state.seed}:refund:{order.number}")
                if order.refund_requested or r.random() < 0.04:
                    kind = order.refund_requested or ("A-to-z Guarantee Refund" if r.random() < 0.2 else "Refund")
                    settlement.lines += settlement_report.refund_lines(order, info, now, kind, f"amzn1.adj.{order.number}")
                    order.refunded_in = settlement_id
        if primary:
            fba = any(o.fulfilled_by == "AMAZON" for o in state.orders.values())
            extra, state.reserve = settlement_report.account_lines(principal, state.reserve, now, fba)
            settlement.lines += extra
        text = settlement_report.render(settlement, info, state.seed).encode(info.charset, errors="replace")
        document = Document(self.new_id("report-doc"), f"text/plain; charset={info.charset}",
                            gzip.compress(text, mtime=0) if compress else text, compressed=compress)
        state.documents[document.document_id] = document
        report = Report(self.new_id("report"), SETTLEMENT_REPORT_TYPE, [info.marketplace_id], start, now, now, document.document_id)
        state.reports[report.report_id] = report
        return report

    def _settle_shipments(self, order: SimOrder, info: MarketplaceInfo, settlement: settlement_report.Settlement, now: datetime) -> Decimal:
        """Pay the order's shipments whose hold has ended; the order counts as settled once all of it is paid."""
        state, paid = self.state, Decimal(0)
        shipments = payouts.shipments_of(order, state.seed, True)
        for shipment in shipments:
            if shipment.shipment_id in state.settled_shipments or shipment.maturity > now:
                continue
            units = {item: (payouts.shipped_before(shipment, shipments, item), count) for item, count in shipment.items.items()}
            lines = settlement_report.order_lines(order, info, shipment.maturity, units, shipment.shipment_id)
            settlement.lines += lines
            paid += sum((l.amount for l in lines if (l.amount_type, l.description) == ("ItemPrice", "Principal")), Decimal(0))
            state.settled_shipments[shipment.shipment_id] = settlement.settlement_id
            state.payouts.append({"orderId": order.order_id, "shipmentId": shipment.shipment_id, "settlementId": settlement.settlement_id,
                                  "shippedAt": iso(shipment.shipped), "releasedAt": iso(shipment.maturity), "reason": shipment.reason,
                                  "paidAt": iso(now), "amount": str(sum((l.amount for l in lines), Decimal(0)))})
        if order.status in ("SHIPPED", "CANCELLED") and shipments and all(s.shipment_id in state.settled_shipments for s in shipments):
            order.settled_in = settlement.settlement_id
        return paid

    def transactions(self, after: datetime, before: datetime, status: str | None, order_id: str | None,
                     group_id: str | None) -> list[dict[str, Any]]:
        """Finances API 2024-06-19 transactions of shipments posted in [after, before)."""
        state, now, deferred = self.state, self.now(), self.state.realism.deferred_payouts
        found = []
        for order in sorted(state.orders.values(), key=lambda o: o.number):
            if order_id and order.order_id != order_id:
                continue
            shipments = payouts.shipments_of(order, state.seed, deferred)
            for shipment in shipments:
                settled = state.settled_shipments.get(shipment.shipment_id) or (order.settled_in if not deferred else None)
                if not payouts.in_window(shipment, after, before) or (status and shipment.status(now) != status):
                    continue
                if group_id and settled != group_id:
                    continue
                units = {item: (payouts.shipped_before(shipment, shipments, item), count) for item, count in shipment.items.items()}
                info = self.info_of(order)
                amounts = [(l.amount_type, l.description, l.amount) for l in
                           settlement_report.order_lines(order, info, shipment.shipped, units, shipment.shipment_id)]
                found.append(payouts.transaction_json(shipment, amounts, info, state.seller_id, now, settled))
        return found

    # --- documents -------------------------------------------------------------------------

    def new_upload(self, content_type: str) -> Document:
        with self.lock:
            document = Document(self.new_id("feed-doc"), content_type)
            self.state.documents[document.document_id] = document
            return document

    def url_for(self, kind: str, document: Document) -> str:
        expires = int((self.now() + timedelta(seconds=DOCUMENT_URL_SECONDS * self.clock.time_scale)).timestamp())
        return f"{self.base_url}/_{kind}/{document.document_id}?X-Amz-Expires={expires}"
