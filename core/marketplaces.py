"""Amazon's marketplaces (id, country, currency, SP-API region) and the OM's sales channel for Amazon.

Ids, countries and regions from https://developer-docs.amazon.com/sp-api/docs/marketplace-ids and
https://developer-docs.amazon.com/sp-api/docs/sp-api-endpoints; the currency is the one each
marketplace sells in.
"""

from __future__ import annotations

from dataclasses import dataclass

AMAZON_CHANNEL = "AMAZON"  # sales_order.channel and customer.source of everything omsync imports from Amazon


@dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    country: str
    currency: str
    region: str  # SP-API region: na, eu or fe; one refresh token and one endpoint serve a region


KNOWN: dict[str, Marketplace] = {
    m.marketplace_id: m
    for m in (
        Marketplace("A2EUQ1WTGCTBG2", "CA", "CAD", "na"),
        Marketplace("ATVPDKIKX0DER", "US", "USD", "na"),
        Marketplace("A1AM78C64UM0Y8", "MX", "MXN", "na"),
        Marketplace("A2Q3Y263D00KWC", "BR", "BRL", "na"),
        Marketplace("A28R8C7NBKEWEA", "IE", "EUR", "eu"),
        Marketplace("A1RKKUPIHCS9HS", "ES", "EUR", "eu"),
        Marketplace("A1F83G8C2ARO7P", "GB", "GBP", "eu"),
        Marketplace("A13V1IB3VIYZZH", "FR", "EUR", "eu"),
        Marketplace("AMEN7PMS3EDWL", "BE", "EUR", "eu"),
        Marketplace("A1805IZSGTT6HS", "NL", "EUR", "eu"),
        Marketplace("A1PA6795UKMFR9", "DE", "EUR", "eu"),
        Marketplace("APJ6JRA9NG5V4", "IT", "EUR", "eu"),
        Marketplace("A2NODRKZP88ZB9", "SE", "SEK", "eu"),
        Marketplace("AE08WJ6YKNBMC", "ZA", "ZAR", "eu"),
        Marketplace("A1C3SOZRARQ6R3", "PL", "PLN", "eu"),
        Marketplace("ARBP9OOSHTCHU", "EG", "EGP", "eu"),
        Marketplace("A33AVAJ2PDY3EV", "TR", "TRY", "eu"),
        Marketplace("A17E79C6D8DWNP", "SA", "SAR", "eu"),
        Marketplace("A2VIGQ35RCS4UG", "AE", "AED", "eu"),
        Marketplace("A21TJRUUN4KGV", "IN", "INR", "eu"),
        Marketplace("A19VAU5U5O7RUS", "SG", "SGD", "fe"),
        Marketplace("A39IBJ37TRP1C6", "AU", "AUD", "fe"),
        Marketplace("A1VC38T7YXB528", "JP", "JPY", "fe"),
    )
}
