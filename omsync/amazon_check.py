"""`omsync amazon check`: one cheap SP-API operation per role the flows need, to say which role the
application (or the seller's authorisation) lacks before a flow fails on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from omsync.connectors.amazon import AmazonConnector, AmazonError, AmazonRejected

PROBE_SKU = "omsync-role-check"  # no such SKU: Amazon's 404 proves the call was allowed


@dataclass(frozen=True)
class RoleCheck:
    role: str
    operation: str
    needed_by: str
    verdict: str  # ok, MISSING or the error that kept the check from telling
    detail: str


def _orders(included: tuple[str, ...]) -> Callable[[AmazonConnector, datetime], object]:
    # Amazon refuses a lastUpdatedBefore within two minutes of its now; five minutes of history cost one page.
    return lambda amazon, now: list(islice(amazon.search_orders(now - timedelta(minutes=10), now - timedelta(minutes=5),
                                                                included_data=included, page_size=1), 1))


ROLES: tuple[tuple[str, str, str, Callable[[AmazonConnector, datetime], object]], ...] = (
    ("Product Listing", "getListingsItem", "prices, inventory", lambda amazon, now: amazon.get_listings_item(PROBE_SKU)),
    ("Inventory and Order Tracking", "searchOrders", "orders, shipments", _orders(("FULFILLMENT",))),
    ("buyer data (restricted: Direct-to-Consumer Shipping)", "searchOrders BUYER, RECIPIENT", "orders (customers, addresses)",
     _orders(("BUYER", "RECIPIENT"))),
    ("Finance and Accounting", "getReports", "settlement", lambda amazon, now: amazon.list_settlement_reports(now - timedelta(days=1))),
)


def check_roles(amazon: AmazonConnector) -> list[RoleCheck]:
    """Each role's operation: allowed (an answer, or 404 for the probe SKU), MISSING (403) or failing otherwise."""
    now = amazon.amazon_now()
    found = []
    for role, operation, needed_by, call in ROLES:
        try:
            call(amazon, now)
            verdict, detail = "ok", ""
        except AmazonRejected as exc:
            if exc.status == 404:
                verdict, detail = "ok", ""
            elif exc.status == 403:
                verdict, detail = "MISSING", f"add the role to the app in Seller Central, then authorise it again ({exc.code})"
            else:
                verdict, detail = "error", str(exc)
        except AmazonError as exc:
            verdict, detail = "error", str(exc)
        found.append(RoleCheck(role, operation, needed_by, verdict, detail))
    return found
