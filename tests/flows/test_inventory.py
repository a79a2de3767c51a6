"""The inventory flow, run for real: OM (SQLite and PostgreSQL) → Prefect → sandbox over HTTP."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from omsync.flows.inventory import inventory
from omsync.demo import publish_catalog
from tests.flows.conftest import artifacts_of_latest_run
from omsync.transforms.availability import compute_quantities

FAST = {"feed_wait_seconds": 60.0}


def expected_quantities(world) -> dict[str, int]:
    """What the OM says each offered SKU may sell, by the tested transform."""
    om = world.om
    computed = compute_quantities(
        om.read("SELECT item_id, item_code, backorderable, active FROM item"),
        om.read("SELECT item_id, name, value, tag FROM item_attribute WHERE name = 'AmazonItem'"),
        om.read("SELECT item_id, site_id, on_hand FROM inventory"),
        om.read("SELECT hold_id, item_id, site_id, qty FROM inventory_hold"),
        om.read("SELECT site_id, code FROM site"),
    ).quantities
    return dict(computed.filter(pl.col("included")).select("sku", "quantity").iter_rows())


def backorderable_skus(world) -> set[str]:
    return set(world.om.read("SELECT item_code FROM item i JOIN item_attribute a USING (item_id) "
                             "WHERE backorderable AND active AND a.name = 'AmazonItem' AND a.value <> 'No'")["item_code"])


def test_a_run_sets_every_quantity_and_a_rerun_sends_nothing(world):
    publish_catalog(world.sandbox, world.om)
    first = inventory(resources=world.resources, **FAST)
    expected = expected_quantities(world)
    listings = world.listings()
    assert {sku: listings[sku]["quantity"] for sku in expected} == expected
    assert first["messages sent"] == len(expected) and first["verdict ACCEPTED"] == len(expected)
    backorderable = backorderable_skus(world)
    assert backorderable and all(listings[s]["quantity"] == 1000 for s in backorderable)
    state = world.state()
    assert (state["quantity_accepted"] == state["quantity_sent"]).all() and set(state["quantity_verdict"]) == {"ACCEPTED"}

    feeds_before = world.sandbox.admin("GET", "calls")["calls"]["createFeed"]
    landed = sorted(world.warehouse.landing_dir.rglob("*.parquet"))
    computed = {path: path.stat().st_mtime_ns for path in world.warehouse.cache_dir.iterdir()}
    again = inventory(resources=world.resources, **FAST)
    assert again["messages sent"] == 0 and world.sandbox.admin("GET", "calls")["calls"]["createFeed"] == feeds_before
    assert sorted(world.warehouse.landing_dir.rglob("*.parquet")) == landed, "an unchanged OM is not landed again"
    assert computed and {path: path.stat().st_mtime_ns for path in world.warehouse.cache_dir.iterdir()} == computed, \
        "an unchanged OM is not computed again"
    with world.warehouse.read() as con:
        runs = con.execute("SELECT outcome, count_out FROM ops.runs WHERE flow = 'inventory' ORDER BY started").fetchall()
        bad_tags = con.execute("SELECT count(*) FROM ops.quarantine WHERE flow = 'inventory' AND reason LIKE '%sent the unadjusted%' AND resolved_at IS NULL").fetchone()[0]
    assert [r[1] for r in runs] == [len(expected), 0] and runs[0][0] == "OK_WITH_PROBLEMS"
    assert bad_tags >= 1
    summary = artifacts_of_latest_run("inventory-summary")[0]
    assert summary.type == "markdown" and "| messages sent | 0 |" in summary.data
    problems = artifacts_of_latest_run("inventory-problems")[0]
    assert problems.type == "table" and "bad OM data" in str(problems.data)


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_rejected_messages_and_fatal_feeds_are_sent_again(world):
    missing = sorted(expected_quantities(world))[:3]
    publish_catalog(world.sandbox, world.om, skip=set(missing))
    world.sandbox.admin("POST", "faults", {"fatalFeeds": 1})
    fatal = inventory(resources=world.resources, **FAST)
    assert fatal["verdict FATAL"] == fatal["messages sent"]
    assert all(l["quantity"] is None for l in world.listings().values())
    assert world.state()["quantity_accepted"].is_null().all(), "nothing claimed accepted"

    retried = inventory(resources=world.resources, **FAST)
    assert retried["messages sent"] == fatal["messages sent"] and retried["verdict REJECTED"] == 3
    rejected = world.state().filter(pl.col("quantity_verdict") == "REJECTED")
    assert sorted(rejected["sku"]) == missing and rejected["quantity_issues"].str.contains("does not match any listing").all()

    publish_catalog(world.sandbox, world.om)  # the seller creates the three listings on Amazon
    fixed = inventory(resources=world.resources, **FAST)
    assert fixed["messages sent"] == 3 and fixed["verdict ACCEPTED"] == 3
    expected = expected_quantities(world)
    listings = world.listings()
    assert {s: listings[s]["quantity"] for s in expected} == expected


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_zeros_go_first_and_items_leaving_amazon_get_zero_once(world):
    publish_catalog(world.sandbox, world.om)
    inventory(resources=world.resources, **FAST)
    listings = world.listings()
    stocked = sorted(s for s, l in listings.items() if (l["quantity"] or 0) > 0 and (l["quantity"] or 0) < 1000)
    sold_out, leaving = stocked[0], stocked[1]
    world.om_execute(lambda t: f"UPDATE {t('inventory')} SET on_hand = 0 WHERE item_id = (SELECT item_id FROM {t('item')} WHERE item_code = ?)", [sold_out])
    world.om_execute(lambda t: f"DELETE FROM {t('inventory_hold')} WHERE item_id = (SELECT item_id FROM {t('item')} WHERE item_code = ?)", [sold_out])
    world.om_execute(lambda t: f"UPDATE {t('item_attribute')} SET value = 'No' WHERE name = 'AmazonItem' AND item_id = (SELECT item_id FROM {t('item')} WHERE item_code = ?)", [leaving])
    second = inventory(resources=world.resources, **FAST)
    assert second["zeros patched at once"] == 2 and second["leaving Amazon"] == 1 and second["messages sent"] == 2
    patched = [c for c in world.sandbox.admin("GET", "calls")["calls"].items() if c[0] == "patchListingsItem"]
    assert patched == [("patchListingsItem", 2)]
    listings = world.listings()
    assert listings[sold_out]["quantity"] == 0 and listings[leaving]["quantity"] == 0
    third = inventory(resources=world.resources, **FAST)
    assert third["messages sent"] == 0, "an item that left Amazon is left alone once it is at 0"


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_new_backorder_level_reaches_amazon_on_the_next_run(world):
    publish_catalog(world.sandbox, world.om)
    inventory(resources=world.resources, **FAST)
    backorderable = backorderable_skus(world)
    changed = inventory(resources=world.resources, backorder_quantity=250, **FAST)
    assert backorderable and changed["messages sent"] == len(backorderable)
    listings = world.listings()
    assert {listings[sku]["quantity"] for sku in backorderable} == {250}


# SQLite only: --full changes what is sent, not how the OM is read.
@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_full_sends_everything(world):
    publish_catalog(world.sandbox, world.om)
    first = inventory(resources=world.resources, **FAST)
    full = inventory(resources=world.resources, full=True, **FAST)
    assert full["messages sent"] == first["messages sent"] and full["verdict ACCEPTED"] == first["messages sent"]


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_killed_after_submitting_the_rerun_neither_loses_nor_invents_a_verdict(world, prefect_server):
    publish_catalog(world.sandbox, world.om)
    world.sandbox.admin("POST", "faults", {"operation": "getFeed", "latencyMs": 60_000})  # the run hangs waiting for Amazon
    env = {**os.environ, **world.env, "PREFECT_API_URL": prefect_server}
    child = subprocess.Popen([str(Path(sys.executable).with_name("omsync")), "run", "inventory"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while world.sandbox.admin("GET", "calls")["calls"].get("getFeed", 0) == 0:
            assert child.poll() is None and time.monotonic() < deadline, "the run should be waiting for its feed"
            time.sleep(0.2)
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    state = world.state()
    assert state.height and set(state["quantity_verdict"]) == {"PENDING"}
    assert state["quantity_accepted"].is_null().all(), "nothing is claimed accepted before Amazon said so"
    with world.warehouse.read() as con:
        assert con.execute("SELECT outcome FROM ops.runs").fetchall() == [("RUNNING",)]

    world.sandbox.admin("DELETE", "faults")
    rerun = inventory(resources=world.resources, **FAST)
    assert rerun["verdict ACCEPTED"] == state.height and rerun["messages sent"] == 0, "the earlier feed's verdicts are collected, nothing resent"
    expected = expected_quantities(world)
    listings = world.listings()
    assert {s: listings[s]["quantity"] for s in expected} == expected
    assert (world.state()["quantity_accepted"] == world.state()["quantity_sent"]).all()


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_feeds_and_patches_whose_reply_was_lost_are_neither_lost_nor_doubled(world):
    publish_catalog(world.sandbox, world.om)
    # Amazon applies the call, then the connection drops before its answer: the client sends it again.
    for operation in ("createFeed", "patchListingsItem"):
        world.sandbox.admin("POST", "faults", {"operation": operation, "lostReply": 0.5})
    inventory(resources=world.resources, **FAST)
    expected = expected_quantities(world)
    stocked = sorted(s for s, q in expected.items() if 0 < q < 1000)[:4]
    for sku in stocked:  # sold out: patched at once
        world.om_execute(lambda t: f"UPDATE {t('inventory')} SET on_hand = 0 WHERE item_id = (SELECT item_id FROM {t('item')} WHERE item_code = ?)", [sku])
        world.om_execute(lambda t: f"DELETE FROM {t('inventory_hold')} WHERE item_id = (SELECT item_id FROM {t('item')} WHERE item_code = ?)", [sku])
    second = inventory(resources=world.resources, **FAST)
    assert second["zeros patched at once"] == len(stocked)
    expected, listings = expected_quantities(world), world.listings()
    assert {sku: listings[sku]["quantity"] for sku in expected} == expected
    state = world.state()
    assert (state["quantity_accepted"] == state["quantity_sent"]).all() and set(state["quantity_verdict"]) == {"ACCEPTED"}
    calls = world.sandbox.admin("GET", "calls")["calls"]
    assert calls["patchListingsItem"] > len(stocked) and calls["createFeed"] > calls["createFeedDocument"], "replies were lost and resent"
    assert inventory(resources=world.resources, **FAST)["messages sent"] == 0, "nothing is left to send"
