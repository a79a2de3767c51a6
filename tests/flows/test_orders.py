"""The orders flow, run for real: sandbox buyers → Prefect → OM sales orders (SQLite and PostgreSQL)."""


import polars as pl
import pytest

from omsync.flows.orders import orders

BUYER_FIELDS = "s.external_order_id, s.status, s.fulfilled_by, c.customer_no, c.source"


def stock_catalog(world, count=12, quantity=40):
    """The first SKUs on Amazon with stock and a price, so that buyers can order them."""
    skus = world.om.read("SELECT i.item_code FROM item i JOIN item_attribute a USING (item_id) "
                         "WHERE a.name = 'AmazonItem' AND a.value <> 'No' AND i.active ORDER BY 1 LIMIT ?", [count])["item_code"]
    world.sandbox.admin("POST", "listings", {"listings": [{"sku": s, "productType": "PRODUCT", "quantity": quantity, "price": "24.99"} for s in skus]})
    return skus.to_list()


def amazon_orders(world) -> dict[str, dict]:
    return {o["orderId"]: o for o in world.sandbox.admin("GET", "orders")["orders"]}


def om_orders(world) -> pl.DataFrame:
    return world.om.read(f"SELECT {BUYER_FIELDS}, s.sales_order_id FROM sales_order s JOIN customer c USING (customer_id) ORDER BY 1")


def assert_om_matches_amazon(world):
    """Every Amazon order as of the last run's watermark is in the OM exactly once when released and
    not cancelled, with its lines and holds; later changes belong to the next run."""
    with world.warehouse.read() as con:
        mark = con.execute("SELECT value FROM ops.watermarks WHERE flow = 'orders'").fetchone()[0]
    amazon = amazon_orders(world)
    settled = {i: o for i, o in amazon.items() if o["lastUpdated"] <= mark}
    om = om_orders(world)
    assert om["external_order_id"].is_unique().all()
    in_om = dict(om.select("external_order_id", "status").iter_rows())
    for order_id, order in settled.items():
        if order["status"] in ("PENDING", "CANCELLED"):
            assert in_om.get(order_id) in (None, "cancelled") or order_id in cancelled_after_shipping(world), order_id
        else:
            assert in_om.get(order_id) in ("open", "closed"), order_id
    assert set(in_om) <= set(amazon)
    lines = world.om.read("SELECT s.external_order_id, count(*) AS n, sum(l.qty_ordered) AS qty FROM sales_order_line l "
                          "JOIN sales_order s USING (sales_order_id) GROUP BY 1")
    for order_id, n, qty in lines.iter_rows():
        assert (n, qty) == (len(amazon[order_id]["lines"]), sum(l["quantity"] for l in amazon[order_id]["lines"]))
    holds = world.om.read("SELECT s.external_order_id, sum(h.qty) AS held FROM inventory_hold h JOIN sales_order_line l ON h.sales_order_line_id = l.line_id "
                          "JOIN sales_order s USING (sales_order_id) GROUP BY 1")
    merchant_open = set(om.filter((pl.col("fulfilled_by") == "MERCHANT") & (pl.col("status") == "open"))["external_order_id"])
    assert set(holds["external_order_id"]) == merchant_open


# SQLite only: batching is the flow's, the OM transactions are those of the PostgreSQL tests above.
@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_large_import_goes_in_batches_each_committed_once(world, monkeypatch):
    monkeypatch.setattr("omsync.flows.orders.BATCH_ORDERS", 50)  # a batch per page of 100: 3 OM transactions
    stock_catalog(world, quantity=200)
    world.sandbox.admin("POST", "orders", {"count": 250, "release": True})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    first = orders(resources=world.resources)
    assert_om_matches_amazon(world)
    assert first["new in OM"] == first["orders seen"] - first["pending at Amazon"] - first["cancelled before import"]
    assert len(list((world.warehouse.landing_dir / "amazon_orders").glob("*.parquet"))) >= 3, "one landing per batch"
    created = world.om.read("SELECT email FROM customer WHERE source = 'AMAZON' AND email IS NOT NULL")["email"]
    assert created.len() and created.is_unique().all(), "a buyer met again in a later batch is matched, not created twice"


def cancelled_after_shipping(world) -> set[str]:
    with world.warehouse.read() as con:
        return {r[0] for r in con.execute("SELECT amazon_order_id FROM ops.orders WHERE import_state = 'CANCELLED_AFTER_SHIPPING'").fetchall()}


def test_orders_arrive_once_with_customers_lines_and_holds(world):
    stock_catalog(world)
    buyers = world.om.read("SELECT name, address1, city, region, postal_code, country FROM customer ORDER BY customer_no LIMIT 5")
    world.sandbox.admin("POST", "buyers", {"buyers": [
        {"name": n, "address1": a, "city": c, "region": r, "postalCode": p, "country": k} for n, a, c, r, p, k in buyers.iter_rows()]})
    world.sandbox.admin("POST", "orders", {"count": 60, "release": True})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    first = orders(resources=world.resources)
    assert_om_matches_amazon(world)
    assert first["new in OM"] == first["orders seen"] - first["pending at Amazon"] - first["cancelled before import"]
    assert first["customers by NEW"] and first["customers by DEFAULT"]
    assert first.get("customers by NAME_ADDRESS", 0) + first.get("customers by EMAIL", 0) > 0

    world.sandbox.admin("POST", "orders", {"count": 20, "release": True})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    second = orders(resources=world.resources, overlap_minutes=24 * 60)  # a wide overlap: every earlier order is seen again
    assert second["orders seen"] > 20 and second["new in OM"] <= 20
    assert_om_matches_amazon(world)
    customers = world.om.read("SELECT customer_no, count(*) AS n FROM customer GROUP BY 1 HAVING count(*) > 1")
    assert customers.is_empty()
    with world.warehouse.read() as con:
        recorded = con.execute("SELECT count(*), count(match_rule), count(DISTINCT amazon_order_id) FROM ops.orders WHERE import_state = 'IMPORTED'").fetchone()
        pii = con.execute("SELECT count(*) FROM landing.amazon_orders WHERE order_json LIKE '%buyerEmail%' OR order_json LIKE '%addressLine1%'").fetchone()[0]
    assert recorded[0] == recorded[1] == recorded[2] == om_orders(world).height and pii == 0


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_pending_then_released_and_cancellations_before_and_after_import(world):
    world.sandbox.admin("POST", "reset", {"timeScale": 10})  # slow enough that PENDING lasts while we look
    stock_catalog(world)
    pending = world.sandbox.admin("POST", "orders", {"count": 6, "fulfilledBy": "MERCHANT"})["orderIds"]
    world.sandbox.admin("POST", f"orders/{pending[0]}/cancel")
    world.sandbox.admin("POST", "clock/advance", {"seconds": 150})
    first = orders(resources=world.resources)
    assert first["new in OM"] == 0 and first["pending at Amazon"] == 5 and first["cancelled before import"] == 1
    world.sandbox.admin("POST", "clock/advance", {"seconds": 3 * 3600})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 150})  # changes show after Amazon's two minutes
    second = orders(resources=world.resources)
    assert second["new in OM"] >= 4
    assert pending[0] not in set(om_orders(world)["external_order_id"])
    assert_om_matches_amazon(world)

    open_orders = om_orders(world).filter((pl.col("status") == "open") & (pl.col("fulfilled_by") == "MERCHANT"))["external_order_id"].to_list()
    cancel_me, shipped_one = open_orders[0], open_orders[1]
    world.om_execute(lambda t: f"UPDATE {t('sales_order_line')} SET qty_shipped = 1 WHERE sales_order_id = "
                               f"(SELECT sales_order_id FROM {t('sales_order')} WHERE external_order_id = ?)", [shipped_one])
    for order_id in (cancel_me, shipped_one):
        world.sandbox.admin("POST", f"orders/{order_id}/cancel")
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    third = orders(resources=world.resources)
    assert third["cancelled in OM"] == 1
    status = dict(om_orders(world).select("external_order_id", "status").iter_rows())
    assert status[cancel_me] == "cancelled" and status[shipped_one] == "open"
    held = world.om.read("SELECT count(*) AS n FROM inventory_hold h JOIN sales_order_line l ON h.sales_order_line_id = l.line_id "
                         "JOIN sales_order s USING (sales_order_id) WHERE s.external_order_id = ?", [cancel_me])["n"][0]
    assert held == 0
    with world.warehouse.read() as con:
        exception = con.execute("SELECT reason FROM ops.quarantine WHERE flow = 'orders' AND key = ?", [shipped_one]).fetchone()
    assert "already shipped" in exception[0]


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_an_order_for_an_unknown_sku_waits_then_imports(world):
    stock_catalog(world, count=2)
    world.sandbox.admin("POST", "listings", {"listings": [{"sku": "NEW-ITEM-1", "productType": "PRODUCT", "quantity": 5, "price": "9.99"}]})
    [waiting] = world.sandbox.admin("POST", "orders", {"count": 1, "skus": ["NEW-ITEM-1"], "fulfilledBy": "MERCHANT", "release": True})["orderIds"]
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    first = orders(resources=world.resources)
    assert first["waiting"] == 1 and first["new in OM"] == 0
    again = orders(resources=world.resources)  # retried every run, still waiting, nothing dropped
    assert again["waiting"] == 1
    world.om_execute(lambda t: f"INSERT INTO {t('item')} (item_code, description, backorderable, active) VALUES ('NEW-ITEM-1', 'New', false, true)", [])
    third = orders(resources=world.resources)
    assert third["new in OM"] == 1 and third["waiting"] == 0
    assert waiting in set(om_orders(world)["external_order_id"])


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_429_storm_loses_nothing(world):
    stock_catalog(world, count=20, quantity=500)
    world.sandbox.admin("POST", "orders", {"count": 250, "release": True})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    world.sandbox.admin("POST", "faults", {"operation": "searchOrders", "throttle": 0.5, "error503": 0.1})
    orders(resources=world.resources)
    world.sandbox.admin("DELETE", "faults")
    orders(resources=world.resources)  # what changed while the first run paged is picked up by the next window
    assert_om_matches_amazon(world)


def test_killed_between_the_om_commit_and_the_watermark_the_rerun_duplicates_nothing(world, prefect_server):
    stock_catalog(world)
    world.sandbox.admin("POST", "orders", {"count": 40, "release": True})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    world.kill_between_om_commit_and_record("orders", prefect_server, started=lambda: world.committed("landing", "amazon_orders"),
                                            committed=lambda: not om_orders(world).is_empty())
    imported = om_orders(world)
    with world.warehouse.read() as con:
        assert con.execute("SELECT count(*) FROM ops.watermarks").fetchone()[0] == 0, "killed before the watermark"
    rerun = orders(resources=world.resources)
    assert rerun["new in OM"] == 0 and rerun["customers created"] == 0
    assert om_orders(world).equals(imported)
    assert_om_matches_amazon(world)


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_batches_of_one_run_never_resolve_each_others_quarantine(world, monkeypatch):
    monkeypatch.setattr("omsync.flows.orders.BATCH_ORDERS", 50)  # a batch per page of 100
    stock_catalog(world, quantity=200)
    world.sandbox.admin("POST", "listings", {"listings": [{"sku": "NEW-ITEM-1", "productType": "PRODUCT", "quantity": 50, "price": "9.99"}]})
    waiting = world.sandbox.admin("POST", "orders", {"count": 3, "skus": ["NEW-ITEM-1"], "fulfilledBy": "MERCHANT", "release": True})["orderIds"]
    world.sandbox.admin("POST", "clock/advance", {"seconds": 60})
    world.sandbox.admin("POST", "orders", {"count": 150, "release": True})  # later pages: later batches
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    first = orders(resources=world.resources)
    assert first["waiting"] >= 3

    def still_open() -> set[str]:
        with world.warehouse.read() as con:
            return {r[0] for r in con.execute("SELECT key FROM ops.quarantine WHERE flow = 'orders' AND resolved_at IS NULL").fetchall()}

    assert still_open() >= set(waiting), "a later batch resolved the first batch's problems"
    world.om_execute(lambda t: f"INSERT INTO {t('item')} (item_code, description, backorderable, active) VALUES ('NEW-ITEM-1', 'New', false, true)", [])
    orders(resources=world.resources)
    assert not still_open() & set(waiting), "a full run that no longer finds them resolves them"
