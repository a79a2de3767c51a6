"""The price guard as a person works it, for real: prices flow → `omsync prices held|approve|reject` → prices flow."""

import os
from decimal import Decimal

import pytest

from omsync.demo import publish_catalog
from omsync.flows.prices import prices
from tests.flows.test_prices import FAST, expected_prices, offered_prices, set_price
from tests.test_cli import run


def omsync(world, tmp_path, *args, check=True):
    return run(*args, cwd=tmp_path, env={**os.environ, **world.env}, check=check)


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_held_lists_reject_keeps_amazons_price_approve_all_releases(world, tmp_path):
    publish_catalog(world.sandbox, world.om)
    prices(**FAST, resources=world.resources)
    (a, price_a), (b, price_b) = sorted(expected_prices(world).items())[3:5]
    set_price(world, a, str((price_a / 10).quantize(Decimal("0.01"))))
    set_price(world, b, str((price_b * 5).quantize(Decimal("0.01"))))
    assert prices(**FAST, resources=world.resources)["held for approval"] == 2

    listed = omsync(world, tmp_path, "prices", "held").stdout
    assert a in listed and b in listed and "-90.0" in listed and "2 rows" in listed

    rejected = omsync(world, tmp_path, "prices", "reject", a, "--by", "ops@example", "NOT-HELD", check=False)
    assert rejected.returncode == 1 and a in rejected.stdout and "nothing to reject: NOT-HELD" in rejected.stderr
    rerun = prices(**FAST, resources=world.resources)
    assert rerun["messages sent"] == 0
    assert offered_prices(world)[a] == price_a, "Amazon keeps the accepted price"
    with world.warehouse.read() as con:
        assert con.execute("SELECT status, decided_by, rejected_at IS NOT NULL FROM ops.price_guard WHERE sku = ?",
                           [a]).fetchone() == ("REJECTED", "ops@example", True)
    listed = omsync(world, tmp_path, "prices", "held").stdout
    assert a not in listed and b in listed

    omsync(world, tmp_path, "prices", "approve", "--all", "--by", "lead@example")
    released = prices(**FAST, resources=world.resources)
    assert released["messages sent"] == 1 and offered_prices(world)[b] == (price_b * 5).quantize(Decimal("0.01"))
    assert offered_prices(world)[a] == price_a
    with world.warehouse.read() as con:
        assert con.execute("SELECT status, decided_by FROM ops.price_guard WHERE sku = ?", [b]).fetchone() == ("RELEASED", "lead@example")
    assert "0 rows" in omsync(world, tmp_path, "prices", "held").stdout
