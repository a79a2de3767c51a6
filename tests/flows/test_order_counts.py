"""The orders run summary accounts for every order seen: new, unchanged, changed, waiting, pending, cancelled."""

import pytest

from omsync.flows.orders import orders
from tests.flows.test_orders import stock_catalog

OUTCOMES = ("new in OM", "unchanged", "cancelled in OM", "cancelled after shipping", "waiting", "pending at Amazon",
            "cancelled before import")


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_every_order_seen_is_counted_once_and_a_rerun_says_unchanged(world):
    stock_catalog(world)
    world.sandbox.admin("POST", "orders", {"count": 8, "release": True})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    first = orders(resources=world.resources)
    assert first["new in OM"] > 0 and sum(first[k] for k in OUTCOMES) == first["orders seen"]
    again = orders(overlap_minutes=7 * 24 * 60, resources=world.resources)  # a long overlap sees the same orders again (the sandbox runs 1000x): nothing new
    assert again["orders seen"] > 0 and again["new in OM"] == 0
    assert again["unchanged"] == again["orders seen"] and sum(again[k] for k in OUTCOMES) == again["orders seen"]
