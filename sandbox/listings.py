"""The seller's listings on the sandbox marketplace, and how listings-feed messages and
patchListingsItem requests change them (JSON Patch with Amazon's `merge`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Sandbox issue codes, numeric like Amazon's; the messages say what a seller must fix.
UNKNOWN_SKU = "8541"
INVALID_MESSAGE = "4000001"
NEGATIVE_QUANTITY = "99010"
WRONG_CURRENCY = "99014"
BAD_PRICE = "99015"
PRODUCT_TYPE_MISMATCH = "90244"
NOT_TOP_LEVEL = "99020"
SKU_TOO_LONG = "99021"
MAX_SKU_LENGTH = 40  # Seller Central refuses longer seller SKUs
GENERIC_PRODUCT_TYPE = "PRODUCT"


@dataclass
class Listing:
    sku: str
    product_type: str
    asin: str
    title: str
    created: datetime
    updated: datetime
    attributes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def quantity(self) -> int | None:
        for entry in self.attributes.get("fulfillment_availability", []):
            if entry.get("fulfillment_channel_code") == "DEFAULT":
                return entry.get("quantity")
        return None

    def price(self) -> Decimal | None:
        for offer in self.attributes.get("purchasable_offer", []):
            if offer.get("audience", "ALL") == "ALL":
                for price in offer.get("our_price", []):
                    for entry in price.get("schedule", []):
                        return Decimal(str(entry["value_with_tax"]))
        return None

    def set_quantity(self, quantity: int) -> None:
        """Amazon decrements the merchant-fulfilled quantity when a buyer orders."""
        for entry in self.attributes.get("fulfillment_availability", []):
            if entry.get("fulfillment_channel_code") == "DEFAULT":
                entry["quantity"] = quantity


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    severity: str = "ERROR"
    attribute: str | None = None

    def as_json(self) -> dict[str, Any]:
        shown = {"code": self.code, "message": self.message, "severity": self.severity}
        if self.attribute:
            shown["attributeNames"] = [self.attribute]
        return shown


def check_patches(
    listing: Listing | None, sku: str, product_type: str | None, patches: list[dict], marketplace_id: str, currency: str
) -> list[Issue]:
    """What Amazon would refuse in these patches for this listing (empty: they apply)."""
    if len(sku) > MAX_SKU_LENGTH:
        return [sku_too_long(sku)]
    if listing is None:
        return [Issue(UNKNOWN_SKU, f"SKU '{sku}' does not match any listing of this seller in the marketplace.")]
    issues: list[Issue] = []
    if product_type not in (listing.product_type, GENERIC_PRODUCT_TYPE):
        issues.append(
            Issue(PRODUCT_TYPE_MISMATCH, f"The product type '{product_type}' does not match the listing's product type '{listing.product_type}'.")
        )
    for patch in patches:
        path = patch.get("path", "")
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "attributes":
            issues.append(Issue(NOT_TOP_LEVEL, f"Only top-level listings item attributes can be patched, not '{path}'."))
            continue
        name = parts[1]
        for value in patch.get("value") or []:
            if name == "fulfillment_availability":
                quantity = value.get("quantity")
                if quantity is not None and (not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0):
                    issues.append(Issue(NEGATIVE_QUANTITY, f"The quantity {quantity!r} is invalid: it must be a whole number of 0 or more.", attribute="fulfillment_availability"))
            elif name == "purchasable_offer":
                issues += _offer_issues(value, marketplace_id, currency)
    return issues


def sku_too_long(sku: str) -> Issue:
    return Issue(SKU_TOO_LONG, f"The SKU is {len(sku)} characters long; a seller SKU has at most {MAX_SKU_LENGTH}.")


def _offer_issues(offer: dict, marketplace_id: str, currency: str) -> list[Issue]:
    issues = []
    if offer.get("currency") not in (None, currency):
        issues.append(Issue(WRONG_CURRENCY, f"The currency '{offer.get('currency')}' is not valid for marketplace {marketplace_id}; use '{currency}'.", attribute="purchasable_offer"))
    if offer.get("marketplace_id") not in (None, marketplace_id):
        issues.append(Issue(WRONG_CURRENCY, f"The offer is for marketplace '{offer.get('marketplace_id')}', not {marketplace_id}.", attribute="purchasable_offer"))
    for price in offer.get("our_price") or []:
        for entry in price.get("schedule") or []:
            value = entry.get("value_with_tax")
            if not _is_price(value):
                issues.append(Issue(BAD_PRICE, f"The price {value!r} is invalid: it must be a number above 0 with at most 2 decimals.", attribute="purchasable_offer"))
    return issues


def _is_price(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    return number.is_finite() and number > 0 and number == number.quantize(Decimal("0.01"))


def apply_patches(listing: Listing, patches: list[dict], now: datetime) -> None:
    """Apply JSON Patch operations on top-level attributes; `merge` keeps the sub-fields not given."""
    for patch in patches:
        name = patch["path"].strip("/").split("/")[1]
        op, value = patch["op"], patch.get("value") or []
        if op == "delete":
            listing.attributes.pop(name, None)
        elif op in ("add", "replace"):
            listing.attributes[name] = [dict(v) for v in value]
        elif op == "merge":
            listing.attributes[name] = _merge(listing.attributes.get(name, []), value)
    listing.updated = now


def _identity(entry: dict) -> tuple:
    return (entry.get("fulfillment_channel_code"), entry.get("marketplace_id"), entry.get("audience"))


def _merge(current: list[dict], incoming: list[dict]) -> list[dict]:
    merged = [dict(e) for e in current]
    for value in incoming:
        match = next((e for e in merged if _identity(e) == _identity(value)), None)
        if match is None:
            merged.append(dict(value))
        else:
            match.update(value)
    return merged


def listing_json(listing: Listing, marketplace_id: str, included: set[str], issues: list[Issue]) -> dict[str, Any]:
    """The getListingsItem answer for the requested includedData."""
    shown: dict[str, Any] = {"sku": listing.sku}
    if "summaries" in included:
        shown["summaries"] = [
            {
                "marketplaceId": marketplace_id,
                "asin": listing.asin,
                "productType": listing.product_type,
                "conditionType": "new_new",
                "status": ["BUYABLE"] if (listing.quantity() or 0) > 0 and listing.price() else ["DISCOVERABLE"],
                "itemName": listing.title,
                "createdDate": listing.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "lastUpdatedDate": listing.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ]
    if "attributes" in included:
        shown["attributes"] = listing.attributes
    if "issues" in included:
        shown["issues"] = [i.as_json() | {"categories": ["INVALID_ATTRIBUTE"]} for i in issues]
    if "fulfillmentAvailability" in included:
        shown["fulfillmentAvailability"] = [
            {"fulfillmentChannelCode": e["fulfillment_channel_code"], "quantity": e.get("quantity", 0)}
            for e in listing.attributes.get("fulfillment_availability", [])
        ]
    return shown
