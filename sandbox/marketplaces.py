"""What differs per Amazon marketplace in the sandbox: currency, tax, and the settlement file's locale."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class MarketplaceInfo:
    marketplace_id: str
    country: str
    name: str
    currency: str
    tax_rate: Decimal
    decimal_comma: bool  # settlement amounts as 1.234,56 instead of 1,234.56
    charset: str  # of the settlement report download
    region: str  # NA or EU: one seller account, one merchant quantity per SKU (docs#3167)
    per_usd: Decimal  # what one US dollar is in this currency (prices of the other marketplaces are seeded from it)


MARKETPLACES = {
    m.marketplace_id: m
    for m in (
        MarketplaceInfo("ATVPDKIKX0DER", "US", "Amazon.com", "USD", Decimal("0.0825"), False, "UTF-8", "NA", Decimal("1")),
        MarketplaceInfo("A2EUQ1WTGCTBG2", "CA", "Amazon.ca", "CAD", Decimal("0.13"), False, "UTF-8", "NA", Decimal("1.38")),
        MarketplaceInfo("A1AM78C64UM0Y8", "MX", "Amazon.com.mx", "MXN", Decimal("0.16"), False, "UTF-8", "NA", Decimal("18.5")),
        MarketplaceInfo("A1F83G8C2ARO7P", "GB", "Amazon.co.uk", "GBP", Decimal("0.20"), False, "UTF-8", "EU", Decimal("0.79")),
        MarketplaceInfo("A1PA6795UKMFR9", "DE", "Amazon.de", "EUR", Decimal("0.19"), True, "ISO-8859-1", "EU", Decimal("0.92")),
        MarketplaceInfo("A13V1IB3VIYZZH", "FR", "Amazon.fr", "EUR", Decimal("0.20"), True, "ISO-8859-1", "EU", Decimal("0.92")),
        MarketplaceInfo("APJ6JRA9NG5V4", "IT", "Amazon.it", "EUR", Decimal("0.22"), True, "ISO-8859-1", "EU", Decimal("0.92")),
        MarketplaceInfo("A1RKKUPIHCS9HS", "ES", "Amazon.es", "EUR", Decimal("0.21"), True, "ISO-8859-1", "EU", Decimal("0.92")),
        MarketplaceInfo("A1805IZSGTT6HS", "NL", "Amazon.nl", "EUR", Decimal("0.21"), True, "ISO-8859-1", "EU", Decimal("0.92")),
    )
}


def marketplace(marketplace_id: str) -> MarketplaceInfo:
    try:
        return MARKETPLACES[marketplace_id]
    except KeyError:
        known = ", ".join(f"{m.country} {m.marketplace_id}" for m in MARKETPLACES.values())
        raise ValueError(f"the sandbox knows these marketplaces: {known}") from None


def region_of(primary: MarketplaceInfo) -> list[MarketplaceInfo]:
    """The marketplaces a unified account of `primary`'s region sells in, `primary` first."""
    return [primary] + [m for m in MARKETPLACES.values() if m.region == primary.region and m is not primary]
