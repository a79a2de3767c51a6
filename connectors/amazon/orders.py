"""Orders API: searchOrders and getOrder of 2026-01-01, confirmShipment of v0 (not in the 2026 model)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Sequence

from omsync.connectors.amazon.transport import AmazonTransport, iso

ORDER_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES")


class OrdersApi:
    def __init__(self, transport: AmazonTransport) -> None:
        self.transport = transport

    def search_orders(self, last_updated_after: datetime, last_updated_before: datetime, marketplace_ids: Sequence[str],
                      included_data: Sequence[str] = ORDER_DATA, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every page of orders updated in [after, before], as Amazon returns them (orders, lastUpdatedBefore)."""
        t = self.transport
        query: dict[str, Any] = {"lastUpdatedAfter": iso(last_updated_after), "lastUpdatedBefore": iso(last_updated_before),
                                 "marketplaceIds": list(marketplace_ids), "includedData": list(included_data),
                                 "maxResultsPerPage": page_size}
        while True:
            response = t.invoke("searchOrders", lambda: t.client("orders").search_orders(**query))
            yield response.payload
            if not response.next_token:  # the library moves pagination.nextToken out of the payload
                return
            query["paginationToken"] = response.next_token

    def get_order(self, order_id: str, included_data: Sequence[str] = ORDER_DATA) -> dict[str, Any]:
        t = self.transport
        return t.invoke("getOrder", lambda: t.client("orders").get_order(order_id, includedData=list(included_data))).payload["order"]

    def confirm_shipment(self, order_id: str, package_detail: dict[str, Any], marketplace_id: str) -> None:
        """Tell Amazon one package of an order of `marketplace_id` shipped (204). A repeated packageReferenceId edits that package."""
        t = self.transport
        t.invoke("confirmShipment", lambda: t.client("orders_v0").confirm_shipment(
            order_id, marketplaceId=marketplace_id, packageDetail=package_detail))
