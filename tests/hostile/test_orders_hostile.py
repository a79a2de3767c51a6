"""Control characters in what Amazon sends never stop the order import (issue 16): PostgreSQL refuses
a NUL byte and SQLite cuts the text at it, so text is cleaned before it reaches the OM."""

import polars as pl

from omsync.flows.orders import orders
from tests.flows.test_orders import amazon_orders, assert_om_matches_amazon, stock_catalog

HOSTILE = {"name": "Zoë\x00 Null\x07", "address1": "1 Tab\tStreet\x1b", "city": "Nul\x00ville", "postalCode": "60601",
           "region": "IL", "phone": "555\x000100"}


def test_a_buyer_with_nul_and_control_characters_is_imported_cleaned_with_every_other_order(world):
    stock_catalog(world, quantity=500)
    world.sandbox.admin("POST", "buyers", {"buyers": [HOSTILE]})
    world.sandbox.admin("POST", "orders", {"count": 40, "release": True})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    hostile = [i for i, o in amazon_orders(world).items()
               if o["buyer"] and o["buyer"]["name"] == HOSTILE["name"] and o["status"] not in ("PENDING", "CANCELLED")]
    assert hostile, "the sandbox placed orders for the hostile buyer"

    run = orders(resources=world.resources)

    assert_om_matches_amazon(world)
    assert run["new in OM"] == len(world.om.read("SELECT 1 FROM sales_order"))
    om = world.om.read("SELECT s.external_order_id, s.ship_to_name, s.ship_to_address1, s.ship_to_city, c.name, c.phone "
                       "FROM sales_order s JOIN customer c USING (customer_id)")
    cleaned = om.filter(pl.col("external_order_id").is_in(hostile))
    assert cleaned.height == len(hostile)
    assert set(cleaned["ship_to_name"]) == set(cleaned["name"]) == {"Zoë Null"}, "cleaned, not cut at the NUL"
    assert set(cleaned["ship_to_address1"]) == {"1 Tab Street"} and set(cleaned["ship_to_city"]) == {"Nulville"}
    assert set(cleaned["phone"]) - {None} <= {"5550100"}
    text = pl.concat_str(pl.all().cast(pl.String).fill_null(""))
    assert not om.select(text.str.contains(r"[\x00-\x1f\x7f]").any()).item()
