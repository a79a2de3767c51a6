"""Listings Items API 2021-08-01: one SKU at a time, for urgent changes and read-backs."""

from __future__ import annotations

from typing import Any, Sequence

from omsync.connectors.amazon.transport import AmazonTransport


class ListingsApi:
    def __init__(self, transport: AmazonTransport) -> None:
        self.transport = transport

    def patch_listings_item(self, sku: str, product_type: str, patches: list[dict[str, Any]], marketplace_id: str) -> dict[str, Any]:
        """One urgent change to one SKU in one marketplace; returns Amazon's submission (status ACCEPTED or INVALID, issues)."""
        t = self.transport
        return t.invoke("patchListingsItem", lambda: t.client("listings").patch_listings_item(
            t.settings.seller_id, sku, marketplaceIds=[marketplace_id],
            body={"productType": product_type, "patches": patches})).payload

    def get_listings_item(self, sku: str, marketplace_id: str, included_data: Sequence[str] = ("summaries",)) -> dict[str, Any]:
        t = self.transport
        return t.invoke("getListingsItem", lambda: t.client("listings").get_listings_item(
            t.settings.seller_id, sku, marketplaceIds=[marketplace_id], includedData=",".join(included_data))).payload
