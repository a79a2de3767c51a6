"""The sandbox's admin API under /_sandbox/: the clock, the catalog, buyers' orders, faults, the
realism profile, notifications, and the ground truth the scorecard is computed from."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from omsync.sandbox import truth
from omsync.sandbox.clock import iso, parse_iso
from omsync.sandbox.market_settlements import SETTLEMENT_REPORT_TYPE
from omsync.sandbox.realism import SIMPLE, Realism, profile
from omsync.sandbox.records import Fault


def _realism(body: dict, base: Realism) -> Realism:
    """{"profile": "simple"|"seller", "settings": {...}}: a named profile, then changes to it."""
    start = profile(body["profile"]) if body.get("profile") else base
    return start.with_changes(body.get("settings") or {})


def answer(app, action: str, method: str, body: dict, query: dict) -> Any:
    """The answer to one admin request of SandboxApp `app` (KeyError: no such action; ValueError: a bad request)."""
    market = app.market
    match (method, action):
        case ("GET", "clock"):
            return {"now": iso(market.now()), "elapsed": market.clock.elapsed(), "timeScale": market.clock.time_scale}
        case ("POST", "clock"):
            market.clock.set_time_scale(float(body["timeScale"]))
            return {"now": iso(market.now()), "elapsed": market.clock.elapsed(), "timeScale": market.clock.time_scale}
        case ("POST", "clock/advance"):
            market.advance(float(body.get("seconds", 0)) + 86400 * float(body.get("days", 0)))
            return {"now": iso(market.now())}
        case ("POST", "listings"):
            return {"created": market.add_listings(body["listings"])}
        case ("GET", "listings"):
            with market.lock:
                wanted = set(query["skus"].split(",")) if query.get("skus") else None
                return {"listings": [
                    {"sku": l.sku, "productType": l.product_type, "asin": l.asin, "quantity": l.quantity(),
                     "price": None if l.price() is None else str(l.price()), "attributes": l.attributes}
                    for l in market.state.listings.values() if wanted is None or l.sku in wanted]}
        case ("POST", "orders"):
            placed = market.place_orders(int(body.get("count", 1)), body.get("fulfilledBy"), body.get("skus"), body.get("basketSizes"))
            if body.get("release"):
                market.advance(max(0.0, max((market.state.orders[i].due for i in placed), default=0) - market.clock.elapsed()) + 1)
            return {"orderIds": placed}
        case ("GET", "orders"):
            with market.lock:
                return {"orders": [
                    {"orderId": o.order_id, "status": o.status, "fulfilledBy": o.fulfilled_by, "created": iso(o.created), "lastUpdated": iso(o.updated),
                     "buyer": None if o.buyer is None else asdict(o.buyer),
                     "lines": [asdict(l) for l in o.lines],
                     "packages": [asdict(p) | {"created": iso(p.created)} for p in o.packages.values()],
                     "cancelRequested": o.cancel_requested and iso(o.cancel_requested), "cancelledBy": o.cancelled_by,
                     "settledIn": o.settled_in}
                    for o in market.state.orders.values()]}
        case ("POST", _) if action.startswith("orders/") and action.endswith("/cancel"):
            order = market.cancel_order(action.split("/")[1])
            return {"orderId": order.order_id, "status": order.status}
        case ("POST", _) if action.startswith("orders/") and action.endswith("/cancel-request"):
            order = market.request_cancel(action.split("/")[1], body.get("reason", "Order placed by mistake"))
            return {"orderId": order.order_id, "cancelRequested": iso(order.cancel_requested)}
        case ("POST", _) if action.startswith("orders/") and action.endswith("/refund"):
            order = market.request_refund(action.split("/")[1], body.get("kind", "Refund"))
            return {"orderId": order.order_id, "refund": order.refund_requested}
        case ("POST", "buyers"):
            return {"added": market.add_known_buyers(body["buyers"])}
        case ("POST", "settlements"):
            with market.lock:
                report = market.issue_settlement(compress=bool(body.get("gzip", True)))
                return {"reportId": report.report_id, "reportDocumentId": report.document_id}
        case ("POST", "faults"):
            with market.lock:
                if body.get("fatalFeeds"):
                    market.state.fatal_feeds = int(body["fatalFeeds"])
                if body.get("operation"):
                    market.faults[body["operation"]] = Fault(float(body.get("throttle", 0)), float(body.get("error500", 0)),
                                                             float(body.get("error503", 0)), float(body.get("drop", 0)),
                                                             float(body.get("latencyMs", 0)), float(body.get("lostReply", 0)))
            return {"faults": {k: asdict(v) for k, v in market.faults.items()}, "fatalFeeds": market.state.fatal_feeds}
        case ("DELETE", "faults"):
            market.faults.clear()
            market.state.fatal_feeds = 0
            return {"faults": {}}
        case ("GET", "confirmations"):
            return {"confirmations": list(market.state.confirmations)}
        case ("GET", "calls"):
            return {"calls": dict(market.calls), "throttled": dict(market.throttled)}
        case ("GET", "sqs"):
            if market.sqs is None:
                raise ValueError("this sandbox delivers no notifications (it was not started with an SQS)")
            return {"endpoint": market.sqs.endpoint, "region": "us-east-1"}
        case ("GET", "notifications"):
            with market.lock:
                book = market.state.notifications
                return {"published": list(book.published), "waiting": len(book.outbox)}
        case ("GET", "truth/listings"):
            with market.lock:
                elapsed = market.clock.elapsed() if not query.get("at") else (parse_iso(query["at"]) - market.state.start).total_seconds()
                skus = set(query["skus"].split(",")) if query.get("skus") else None
                return {"at": iso(market.state.start + timedelta(seconds=elapsed)),
                        "listings": truth.listings_at(market.state.offered, market.state.start, elapsed, skus)}
        case ("GET", "truth/listings/series"):
            with market.lock:
                return {"sku": query["sku"], "changes": truth.series(market.state.offered, market.state.start, query["sku"])}
        case ("GET", "truth/orders"):
            with market.lock:
                until = parse_iso(query["at"]) if query.get("at") else None
                return {"orders": [truth.order_truth(o) for o in sorted(market.state.orders.values(), key=lambda o: o.number)
                                   if until is None or o.created <= until]}
        case ("GET", "truth/payouts"):
            with market.lock:
                until = query.get("at")
                paid = [p for p in market.state.payouts if until is None or p["paidAt"] <= iso(parse_iso(until))]
                return {"payouts": paid, "total": truth.paid_total(paid)}
        case ("GET", "violations"):
            return {"violations": list(market.response_violations)}
        case ("GET", "realism"):
            return {"realism": market.state.realism.as_json()}
        case ("POST", "realism"):
            with market.lock:
                market.state.realism = _realism(body, market.state.realism)
            return {"realism": market.state.realism.as_json()}
        case ("POST", "reset"):
            market.reset(body.get("seed"), body.get("timeScale"), body.get("orderRate"), _realism(body, SIMPLE))
            app.buckets.clear()
            return {"now": iso(market.now()), "seed": market.state.seed}
        case ("GET", "reports"):
            return {"reports": [r.as_json() for r in market.state.reports.values()], "type": SETTLEMENT_REPORT_TYPE}
    raise KeyError(f"{method} /_sandbox/{action}")
