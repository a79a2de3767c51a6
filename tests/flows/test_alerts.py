"""Alerts for real: the automations omsync installs on a Prefect server post to a local webhook
when a flow run fails and when one finishes with problems."""

import json
import queue
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from omsync.connectors.om import OmDatabase
from omsync.demo import publish_catalog
from omsync.flows.resources import Resources
from omsync.flows.orders import orders
from omsync.flows.prices import prices
from omsync import alerts
from tests.flows.test_prices import FAST, expected_prices, set_price


@pytest.fixture
def webhook():
    """A webhook receiver on 127.0.0.1: each POSTed JSON body lands in the queue."""
    received: queue.Queue = queue.Queue()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/omsync-secret-key", received
    server.shutdown()


def next_alert(received: queue.Queue, about: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = received.get(timeout=max(deadline - time.monotonic(), 0.1))
        if about in message["subject"]:
            return message


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_run_with_problems_and_a_failed_run_each_post_one_alert(world, webhook):
    url, received = webhook
    assert alerts.install(url) == [alerts.FAILED, alerts.WITH_PROBLEMS]
    alerts.install(url)  # a second serve replaces, never doubles, the automations
    publish_catalog(world.sandbox, world.om)
    assert prices(**FAST, resources=world.resources)["prices invalid"] == 1  # the demo data has one bad price
    alert = next_alert(received, "prices has problems")
    assert alert["source"] == "omsync" and "1 problems (bad OM data 1)" in alert["text"]
    sku, price = sorted(expected_prices(world).items())[2]
    set_price(world, sku, str((price / 10).quantize(Decimal("0.01"))))
    assert prices(**FAST, resources=world.resources)["held for approval"] == 1
    alert = next_alert(received, "prices has problems")
    assert "2 problems (bad OM data 1, needs approval 1)" in alert["text"]
    assert sku not in json.dumps(alert), "alerts carry counts, never keys"

    missing_om = OmDatabase(f"sqlite:///{world.warehouse.path.parent / 'missing' / 'om.sqlite'}")
    with pytest.raises(Exception), Resources(world.resources.settings, missing_om, world.warehouse) as broken:
        orders(resources=broken)
    alert = next_alert(received, "orders run Failed")
    assert "ended Failed" in alert["text"]
    time.sleep(3)
    assert received.empty(), "one alert per run, however often serve installed the automations"
