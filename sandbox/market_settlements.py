"""The marketplace's money: settlement periods per marketplace, per-shipment deferred payouts, Finances API transactions."""

from __future__ import annotations

import gzip
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from omsync.sandbox.clock import iso
from omsync.sandbox.marketplaces import MarketplaceInfo
from omsync.sandbox.orders import SimOrder
from omsync.sandbox import payouts, settlement_report
from omsync.sandbox.records import Document, Report


SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


class Settlements:
    """Part of Marketplace: what Amazon pays, when."""

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
