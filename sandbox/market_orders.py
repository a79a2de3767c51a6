"""The marketplace's buyers and orders: placement, the life cycle step by step, cancellations, searchOrders' indexes."""

from __future__ import annotations

import bisect
import heapq
import random
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any, Iterable

from omsync.sandbox.clock import iso
from omsync.sandbox.listings import Listing
from omsync.sandbox.marketplaces import MarketplaceInfo
from omsync.sandbox.orders import Buyer, OrderLine, Package, SimOrder, cents, make_buyer, order_id_for, order_json, settle_shipment


BASKET_SIZES = [1, 1, 1, 2, 2, 3]  # lines per order, drawn at random
PENDING_SECONDS = (300.0, 1800.0)  # until payment is authorised
AFN_SHIP_SECONDS = (7200.0, 43200.0)


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


class Orders:
    """Part of Marketplace: what buyers order and what becomes of their orders."""

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
