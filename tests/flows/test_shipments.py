"""The shipments flow, run for real: OM shipping orders → confirmShipment on the sandbox → OM closed."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from omsync.flows.orders import orders
from omsync.flows.shipments import shipments
from omsync.sandbox.om_simulator import ship_orders, ship_the_rest
from tests.flows.conftest import latest_progress
from tests.flows.test_orders import stock_catalog


def imported_orders(world, count=30):
    stock_catalog(world, count=10, quantity=200)
    world.sandbox.admin("POST", "orders", {"count": count, "fulfilledBy": "MERCHANT", "release": True})
    world.sandbox.admin("POST", "clock/advance", {"seconds": 300})
    orders(resources=world.resources)


def packages_at_amazon(world) -> dict[str, list[dict]]:
    return {o["orderId"]: o["packages"] for o in world.sandbox.admin("GET", "orders")["orders"]}


def om_shipping(world) -> pl.DataFrame:
    return world.om.read("SELECT o.shipping_order_id, s.external_order_id, o.status, o.carrier, o.tracking_no, o.confirmation_error "
                         "FROM shipping_order o JOIN sales_order s USING (sales_order_id) ORDER BY 1")


def test_each_shipping_order_becomes_one_package_then_closes_with_its_invoice(world):
    imported_orders(world)
    shipped = ship_orders(world.om, share=1.0)
    first = shipments(resources=world.resources)
    sendable = shipped.filter(pl.col("tracking_no").is_not_null())
    assert first["Amazon confirmed"] == sendable.height and first["not sendable"] == shipped.height - sendable.height
    assert latest_progress() == ("packages confirmed to Amazon", 100.0)
    at_amazon = packages_at_amazon(world)
    lines = world.om.read("SELECT sl.shipping_order_id, l.external_line_id, sl.qty FROM shipping_order_line sl JOIN sales_order_line l USING (line_id)")
    for row in om_shipping(world).filter(pl.col("tracking_no").is_not_null()).iter_rows(named=True):
        [package] = [p for p in at_amazon[row["external_order_id"]] if p["package_reference_id"] == str(row["shipping_order_id"])]
        assert package["tracking_number"] == row["tracking_no"]
        expected_items = dict(lines.filter(pl.col("shipping_order_id") == row["shipping_order_id"]).select("external_line_id", "qty").iter_rows())
        assert package["items"] == expected_items
        if row["carrier"] == "Hermes Logistik":
            assert (package["carrier"], package["carrier_name"]) == ("Other", "Hermes Logistik")
        else:
            assert package["carrier"] == row["carrier"]
        assert row["status"] == "closed"
    assert sum(len(p) for p in at_amazon.values()) == sendable.height, "one package per shipping order"
    state = world.om.read(
        "SELECT s.external_order_id, s.status AS so, i.status AS inv, (SELECT count(*) FROM inventory_hold h JOIN sales_order_line l "
        "ON h.sales_order_line_id = l.line_id WHERE l.sales_order_id = s.sales_order_id) AS holds, "
        "(SELECT bool_and(qty_shipped = qty_ordered) FROM sales_order_line l WHERE l.sales_order_id = s.sales_order_id) AS all_shipped "
        "FROM sales_order s JOIN invoice i USING (sales_order_id)")
    fully = state.filter(pl.col("all_shipped"))
    assert fully.height and (fully["inv"] == "closed").all() and (fully["so"] == "closed").all() and (fully["holds"] == 0).all()
    partly = state.filter(~pl.col("all_shipped") & pl.col("external_order_id").is_in(sendable.join(om_shipping(world), on="shipping_order_id")["external_order_id"].implode()))
    assert (partly["inv"] == "open").all()

    again = shipments(resources=world.resources)
    assert again.get("Amazon confirmed", 0) == 0 and again["sent"] == 0


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_partial_shipment_then_the_rest(world):
    imported_orders(world, count=40)
    ship_orders(world.om, share=1.0)
    shipments(resources=world.resources)
    amazon = {o["orderId"]: o for o in world.sandbox.admin("GET", "orders")["orders"]}
    partial = [o for o, order in amazon.items() if order["status"] == "PARTIALLY_SHIPPED"]
    assert partial, "orders with several lines shipped in part"
    ship_the_rest(world.om)
    shipments(resources=world.resources)
    amazon = {o["orderId"]: o for o in world.sandbox.admin("GET", "orders")["orders"]}
    assert all(amazon[o]["status"] == "SHIPPED" and len(amazon[o]["packages"]) >= 2 for o in partial)
    invoices = world.om.read("SELECT s.external_order_id, i.status FROM invoice i JOIN sales_order s USING (sales_order_id)")
    assert (invoices.filter(pl.col("external_order_id").is_in(partial))["status"] == "closed").all()


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_refused_confirmation_is_recorded_and_sent_again_only_when_changed(world):
    imported_orders(world, count=5)
    shipped = ship_orders(world.om, share=1.0).filter(pl.col("tracking_no").is_not_null())
    victim = shipped["shipping_order_id"][0]
    line = world.om.read("SELECT line_id, external_line_id FROM shipping_order_line JOIN sales_order_line USING (line_id) WHERE shipping_order_id = ?", [victim]).row(0)
    world.om_execute(lambda t: f"UPDATE {t('sales_order_line')} SET external_line_id = 'NOT-AN-ITEM' WHERE line_id = ?", [line[0]])
    first = shipments(resources=world.resources)
    assert first["Amazon rejected"] == 1
    error = om_shipping(world).filter(pl.col("shipping_order_id") == victim)["confirmation_error"].item()
    assert "not part of order" in error
    calls = world.sandbox.admin("GET", "calls")["calls"]["confirmShipment"]
    assert shipments(resources=world.resources)["sent"] == 0 and world.sandbox.admin("GET", "calls")["calls"]["confirmShipment"] == calls
    world.om_execute(lambda t: f"UPDATE {t('sales_order_line')} SET external_line_id = ? WHERE line_id = ?", [line[1], line[0]])
    fixed = shipments(resources=world.resources)
    assert fixed["Amazon confirmed"] == 1
    assert om_shipping(world).filter(pl.col("shipping_order_id") == victim)["status"].item() == "closed"


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_429_storm_confirms_everything(world):
    imported_orders(world, count=30)
    shipped = ship_orders(world.om, share=1.0).filter(pl.col("tracking_no").is_not_null())
    world.sandbox.admin("POST", "faults", {"operation": "confirmShipment", "throttle": 0.5, "error500": 0.1})
    result = shipments(resources=world.resources)
    assert result["Amazon confirmed"] == shipped.height
    assert world.sandbox.admin("GET", "calls")["throttled"]["confirmShipment"] > 0


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_killed_between_amazon_and_the_om_the_rerun_never_makes_a_second_package(world, prefect_server):
    imported_orders(world, count=20)
    shipped = ship_orders(world.om, share=1.0).filter(pl.col("tracking_no").is_not_null())
    env = {**os.environ, **world.env, "PREFECT_API_URL": prefect_server}
    blocker = sqlite3.connect(world.om.sqlite_path, timeout=30)
    blocker.execute("BEGIN EXCLUSIVE")  # the OM cannot be written: Amazon hears of the shipments, the OM does not
    child = subprocess.Popen([str(Path(sys.executable).with_name("omsync")), "run", "shipments"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while sum(c["status"] == 204 for c in world.sandbox.admin("GET", "confirmations")["confirmations"]) < shipped.height:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        blocker.rollback()
        blocker.close()
    assert (om_shipping(world)["status"] == "shipped").all(), "nothing closed that the OM did not commit"
    rerun = shipments(resources=world.resources)
    assert rerun["Amazon confirmed"] == shipped.height
    at_amazon = packages_at_amazon(world)
    assert sum(len(p) for p in at_amazon.values()) == shipped.height, "the resend edited each package, none was added"
    assert (om_shipping(world).filter(pl.col("tracking_no").is_not_null())["status"] == "closed").all()


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_killed_run_resends_only_the_confirmations_in_flight(world, prefect_server):
    imported_orders(world, count=60)
    shipped = ship_orders(world.om, share=1.0).filter(pl.col("tracking_no").is_not_null())
    world.sandbox.admin("POST", "faults", {"operation": "confirmShipment", "latencyMs": 2000})  # about 4 answers a second

    def confirmed_at_amazon() -> int:
        return sum(c["status"] == 204 for c in world.sandbox.admin("GET", "confirmations")["confirmations"])

    world.kill_when("shipments", prefect_server, lambda: confirmed_at_amazon() >= 30)
    time.sleep(1.5)  # the calls in flight at the kill still reach Amazon
    recorded = om_shipping(world).filter(pl.col("status") == "closed").height
    assert 0 < recorded < shipped.height, "answers were recorded while the run went on"
    world.sandbox.admin("DELETE", "faults")
    rerun = shipments(resources=world.resources)
    resent = confirmed_at_amazon() - shipped.height
    assert rerun["sent"] == shipped.height - recorded
    assert resent <= 20, f"{resent} confirmations resent: more than were in flight (8 calls, a second or two of answers)"
    assert (om_shipping(world).filter(pl.col("tracking_no").is_not_null())["status"] == "closed").all()


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_confirmations_whose_reply_was_lost_are_neither_lost_nor_doubled(world):
    imported_orders(world, count=20)
    shipped = ship_orders(world.om, share=1.0).filter(pl.col("tracking_no").is_not_null())
    # Amazon applies the confirmation, then the connection drops before its answer: the client retries.
    world.sandbox.admin("POST", "faults", {"operation": "confirmShipment", "lostReply": 0.4})
    result = shipments(resources=world.resources)
    assert result["Amazon confirmed"] == shipped.height
    assert (om_shipping(world).filter(pl.col("shipping_order_id").is_in(shipped["shipping_order_id"].implode()))["status"] == "closed").all()
    packages = [p for ps in packages_at_amazon(world).values() for p in ps]
    assert len(packages) == shipped.height, "a resent confirmation edits its package, never adds one"
    assert world.sandbox.admin("GET", "calls")["calls"]["confirmShipment"] > shipped.height, "replies were lost and resent"
