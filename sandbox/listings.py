"""The seller's listings on the sandbox marketplace, and how listings-feed messages and
patchListingsItem requests change them (JSON Patch with Amazon's `merge`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from omsync.sandbox.offers import buyer_price, delete_entries, outside_limits, replace_entries

# Sandbox issue codes, numeric like Amazon's; the messages say what a seller must fix.
UNKNOWN_SKU = "8541"
INVALID_MESSAGE = "4000001"
NEGATIVE_QUANTITY = "99010"
WRONG_CURRENCY = "99014"
BAD_PRICE = "99015"
PRODUCT_TYPE_MISMATCH = "90244"
NOT_TOP_LEVEL = "99020"
SKU_TOO_LONG = "99021"
NO_CHANNEL = "99022"
FBA_QUANTITY = "99023"
MERGE_NOT_SUPPORTED = "99024"
PRICE_OUTSIDE_LIMITS = "99025"
FBA_CHANNELS = ("AMAZON_NA", "AMAZON_EU", "AMAZON_JP", "AMAZON_FE", "AMAZON_IN")
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

    def fba_quantity(self) -> int | None:
        """Units in Amazon's fulfillment centres (None: the SKU is not Amazon-fulfilled)."""
        found = [e.get("quantity", 0) for e in self.attributes.get("fulfillment_availability", [])
                 if e.get("fulfillment_channel_code") in FBA_CHANNELS]
        return sum(found) if found else None

    def price(self) -> Decimal | None:
        for offer in self.attributes.get("purchasable_offer", []):
            if offer.get("audience", "ALL") == "ALL":
                for price in offer.get("our_price", []):
                    for entry in price.get("schedule", []):
                        return Decimal(str(entry["value_with_tax"]))
        return None

    def buyer_price(self, marketplace_id: str, now: datetime) -> Decimal | None:
        """What a buyer pays now (sale price while it runs; None while the offer is suppressed)."""
        return buyer_price(self.attributes.get("purchasable_offer", []), marketplace_id, now)

    def issues(self) -> list[Issue]:
        """Issues Amazon raises on the listing after accepting it: an offer priced outside its limits is suppressed."""
        found = []
        for offer in self.attributes.get("purchasable_offer", []):
            reason = outside_limits(offer)
            if reason:
                found.append(Issue(PRICE_OUTSIDE_LIMITS, reason + " The offer is suppressed until the price is within the limits.",
                                   attribute="purchasable_offer", categories=("INVALID_PRICE",), suppressed=True))
        return found

    def take_fba(self, quantity: int) -> None:
        """A buyer's order takes units from Amazon's fulfillment centres."""
        for entry in self.attributes.get("fulfillment_availability", []):
            if entry.get("fulfillment_channel_code") in FBA_CHANNELS:
                taken = min(quantity, entry.get("quantity", 0))
                entry["quantity"], quantity = entry.get("quantity", 0) - taken, quantity - taken

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
    categories: tuple[str, ...] = ("INVALID_ATTRIBUTE",)
    suppressed: bool = False  # Amazon took the offer down (enforcement LISTING_SUPPRESSED)

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"code": self.code, "message": self.message, "severity": self.severity}
        if self.attribute:
            shown["attributeNames"] = [self.attribute]
        return shown

    def listing_json(self) -> dict[str, Any]:
        """As getListingsItem and patchListingsItem show it."""
        shown = self.as_json() | {"categories": list(self.categories)}
        if self.suppressed:
            shown["enforcements"] = {"actions": [{"action": "LISTING_SUPPRESSED"}], "exemption": {"status": "NOT_EXEMPT"}}
        return shown


def check_patches(
    listing: Listing | None, sku: str, product_type: str | None, patches: list[dict], marketplace_id: str, currency: str,
    currencies: dict[str, str] | None = None,
) -> list[Issue]:
    """What Amazon would refuse in these patches for this listing (empty: they apply). An offer may be
    for any marketplace of `currencies` (marketplace id → currency; default: only `marketplace_id`)."""
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
        if patch.get("op") == "merge" and not _mergeable(name, patch.get("value") or []):
            issues.append(Issue(MERGE_NOT_SUPPORTED, f"The merge operation is not supported for '{name}': only fulfillment_availability "
                                "quantities and deleting a B2B quantity_discount_plan can be merged.", attribute=name))
            continue
        for value in patch.get("value") or []:
            if name == "fulfillment_availability":
                channel = value.get("fulfillment_channel_code")
                if not channel:
                    issues.append(Issue(NO_CHANNEL, "The field 'fulfillment_channel_code' for the attribute 'fulfillment_availability' does not "
                                        "have enough values. The required minimum is '1' value(s).", attribute="fulfillment_availability"))
                    continue
                if channel in FBA_CHANNELS and value.get("quantity") is not None:
                    issues.append(Issue(FBA_QUANTITY, f"The quantity of an Amazon-fulfilled offer ({channel}) is what Amazon holds in its "
                                        "fulfillment centres; it cannot be set.", attribute="fulfillment_availability"))
                    continue
                quantity = value.get("quantity")
                if quantity is not None and (not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0):
                    issues.append(Issue(NEGATIVE_QUANTITY, f"The quantity {quantity!r} is invalid: it must be a whole number of 0 or more.", attribute="fulfillment_availability"))
            elif name == "purchasable_offer":
                issues += _offer_issues(value, marketplace_id, currencies or {marketplace_id: currency})
    return issues


def _mergeable(name: str, values: list[dict]) -> bool:
    """Amazon's merge works for fulfillment_availability and for a B2B offer's quantity_discount_plan only."""
    if name == "fulfillment_availability":
        return True
    return name == "purchasable_offer" and all(v.get("audience") == "B2B" and set(v) <= {"marketplace_id", "currency", "audience", "quantity_discount_plan"} for v in values)


def sku_too_long(sku: str) -> Issue:
    return Issue(SKU_TOO_LONG, f"The SKU is {len(sku)} characters long; a seller SKU has at most {MAX_SKU_LENGTH}.")


def _offer_issues(offer: dict, marketplace_id: str, currencies: dict[str, str]) -> list[Issue]:
    issues = []
    target = offer.get("marketplace_id") or marketplace_id
    currency = currencies.get(target)
    if currency is None:
        issues.append(Issue(WRONG_CURRENCY, f"The offer is for marketplace '{target}', where this seller does not sell ({', '.join(currencies)}).", attribute="purchasable_offer"))
    elif offer.get("currency") not in (None, currency):
        issues.append(Issue(WRONG_CURRENCY, f"The currency '{offer.get('currency')}' is not valid for marketplace {target}; use '{currency}'.", attribute="purchasable_offer"))
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
            kept = delete_entries(name, listing.attributes.get(name, []), value)
            if kept:
                listing.attributes[name] = kept
            else:
                listing.attributes.pop(name, None)
        elif op in ("add", "replace"):
            listing.attributes[name] = replace_entries(name, listing.attributes.get(name, []), value)
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


def listing_json(listing: Listing, marketplace_id: str, included: set[str], now: datetime) -> dict[str, Any]:
    """The getListingsItem answer for the requested includedData."""
    issues = listing.issues()
    stock = (listing.quantity() or 0) + (listing.fba_quantity() or 0)
    buyable = stock > 0 and listing.buyer_price(marketplace_id, now) is not None
    shown: dict[str, Any] = {"sku": listing.sku}
    if "summaries" in included:
        shown["summaries"] = [
            {
                "marketplaceId": marketplace_id,
                "asin": listing.asin,
                "productType": listing.product_type,
                "conditionType": "new_new",
                "status": ["BUYABLE"] if buyable else ["DISCOVERABLE"],
                "itemName": listing.title,
                "createdDate": listing.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "lastUpdatedDate": listing.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ]
    if "attributes" in included:
        shown["attributes"] = listing.attributes
    if "issues" in included:
        shown["issues"] = [i.listing_json() for i in issues]
    if "fulfillmentAvailability" in included:
        shown["fulfillmentAvailability"] = [
            {"fulfillmentChannelCode": e["fulfillment_channel_code"], "quantity": e.get("quantity", 0)}
            for e in listing.attributes.get("fulfillment_availability", [])
        ]
    return shown
