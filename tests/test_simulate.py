"""`omsync simulate`: a 2-hour smoke day whose card keeps its invariants (not today's values), and the
same seed giving the same card. Real parts: the sandbox over HTTP, an embedded OM, Prefect flow runs."""

import json
import xml.etree.ElementTree as ElementTree

import pytest

from omsync import scorecard_report
from omsync.simulate import Day, schedules, simulate


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, prefect_server):
    out = tmp_path_factory.mktemp("smoke")
    return simulate(Day(hours=2, seed=3), out), out


def test_every_flow_runs_at_each_of_its_due_moments(smoke):
    card, _ = smoke
    expected = {name: int(2 * 3600 // interval) + 1 for name, (interval, _) in schedules().items()}
    assert {r["flow"]: r["runs"] for r in card["runs"]} == expected
    assert all(r["failed"] == 0 for r in card["runs"]), card["runs"]


def test_the_card_is_consistent(smoke):
    card, _ = smoke
    period, oversold, orders = card["period"], card["oversold"], card["orders"]
    assert period["amazon_orders"] >= 0.8 * 2 * 130 and period["merchant_orders"] <= period["amazon_orders"]
    assert oversold["skus"] <= oversold["orders"] <= oversold["units"] or oversold["units"] == 0
    assert oversold["orders"] <= period["merchant_orders"]
    assert 0 < orders["imported"] <= period["amazon_orders"] and orders["missing"] <= period["amazon_orders"] - orders["imported"]
    assert 0 <= orders["p50_minutes"] <= orders["p95_minutes"] <= orders["max_minutes"] <= 120
    minutes = period["skus_listed"] * 120
    stock = card["stock_truth"]
    assert stock["over_longest_minutes"] <= stock["over_sku_minutes"] <= minutes and stock["under_longest_minutes"] <= stock["under_sku_minutes"] <= minutes
    assert card["price_truth"]["wrong_sku_minutes"] + card["price_truth"]["guard_held_sku_minutes"] <= minutes
    ship = card["shipments"]
    assert ship["packages_shipped_in_om"] > 0
    assert ship["confirmed_exactly_once"] + ship["never_confirmed"] + ship["confirmed_more_than_once"] == ship["packages_shipped_in_om"]
    cash = card["cash"]
    assert cash["missed_payments"] <= cash["paid_by_amazon"] <= cash["invoices"] and cash["false_disputes"] <= cash["paid_by_amazon"]
    searches = {r["operation"]: r for r in card["amazon"]}["searchOrders"]
    assert searches["calls"] >= 25 and 0 < searches["plan_share"] <= 1


def test_what_the_sandbox_cannot_show_says_so_instead_of_zero(smoke):
    card, _ = smoke
    assert card["cancellations"]["buyer_requests_honoured_before_shipping"].startswith("n/a")
    assert card["price_truth"]["listings_suppressed"].startswith("n/a")


def test_files_and_charts_are_written(smoke):
    card, out = smoke
    assert json.loads((out / "scorecard.json").read_text())["period"] == card["period"]
    text = (out / "scorecard.md").read_text()
    assert "| oversold | units |" in text
    for file in scorecard_report.CHARTS.values():
        assert ElementTree.parse(out / file).getroot().tag.endswith("svg")
        assert f"]({file})" in text


def test_the_same_seed_gives_the_same_card(tmp_path, prefect_server):
    first = simulate(Day(hours=0.5, seed=5), tmp_path / "a")
    second = simulate(Day(hours=0.5, seed=5), tmp_path / "b")
    first.pop("wall_seconds"), second.pop("wall_seconds")
    assert first == second
    assert (tmp_path / "a" / "scorecard.json").read_text() == (tmp_path / "b" / "scorecard.json").read_text()
    assert first["period"]["amazon_orders"] > 0
