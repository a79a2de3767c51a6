"""The Finances API 2024-06-19 over HTTP: listTransactions, one transaction per shipment paid,
DEFERRED until its maturity date and DEFERRED_RELEASED after it (RELEASED when nothing was held)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

from starlette.routing import Route

from omsync.sandbox.clock import parse_iso

PLANS = {"listTransactions": (0.5, 10)}
PAGE_SIZE = 50  # Amazon pages without a pageSize parameter
MAX_DAYS = 180  # a longer range answers nothing
LATEST_SECONDS = 120  # postedBefore must be at least two minutes ago


class FinancesApi:
    def __init__(self, market, api_error: type[Exception], encode: Callable[[dict], str], decode: Callable[[str], dict]) -> None:
        self.market, self.ApiError, self.encode, self.decode = market, api_error, encode, decode

    def routes(self, op: Callable[..., Callable]) -> list[Route]:
        return [Route("/finances/2024-06-19/transactions", op("listTransactions", self.list_transactions), methods=["GET"])]

    def list_transactions(self, params, query, body) -> tuple[int, Any]:
        one = lambda name: (query.get(name) or [None])[-1]
        if one("nextToken"):
            filters = self.decode(one("nextToken"))
        else:
            filters = {name: one(name) for name in ("postedAfter", "postedBefore", "transactionStatus", "relatedIdentifierName", "relatedIdentifierValue")}
            filters["offset"] = 0
        related, value = filters["relatedIdentifierName"], filters["relatedIdentifierValue"]
        if related not in (None, "ORDER_ID", "FINANCIAL_EVENT_GROUP_ID"):
            raise self.ApiError(400, "InvalidInput", f"relatedIdentifierName {related} does not filter transactions: use ORDER_ID or FINANCIAL_EVENT_GROUP_ID.")
        if related and not value:
            raise self.ApiError(400, "InvalidInput", "relatedIdentifierValue is required with relatedIdentifierName.")
        latest = self.market.now() - timedelta(seconds=LATEST_SECONDS)
        if not filters["postedAfter"] and not related:
            raise self.ApiError(400, "InvalidInput", "postedAfter is required unless relatedIdentifierName is given.")
        after = parse_iso(filters["postedAfter"]) if filters["postedAfter"] else latest - timedelta(days=MAX_DAYS)
        before = parse_iso(filters["postedBefore"]) if filters["postedBefore"] else latest
        if after > latest or before > latest:
            raise self.ApiError(400, "InvalidInput", "postedAfter and postedBefore must be at least two minutes before now.")
        if after >= before:
            raise self.ApiError(400, "InvalidInput", "postedAfter must be before postedBefore.")
        found = [] if before - after > timedelta(days=MAX_DAYS) else self.market.transactions(
            after, before, filters["transactionStatus"], value if related == "ORDER_ID" else None,
            value if related == "FINANCIAL_EVENT_GROUP_ID" else None)
        offset = filters["offset"]
        payload: dict[str, Any] = {"transactions": found[offset: offset + PAGE_SIZE]}
        if offset + PAGE_SIZE < len(found):
            payload["nextToken"] = self.encode({**filters, "offset": offset + PAGE_SIZE})
        return 200, {"payload": payload}
