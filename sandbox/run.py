"""Run the sandbox: bind 127.0.0.1 only, tick the simulated clock, persist --state on the way out."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from pathlib import Path

import uvicorn

from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.realism import SELLER
from omsync.sandbox.sqs import Sqs
from omsync.sandbox.server import Dropped, SandboxApp

SAVE_EVERY_SECONDS = 10.0


class _HideInjectedDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], Dropped))


def bind(port: int) -> socket.socket:
    """A listening socket on loopback; port 0 picks a free one."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    return sock


def serve(market: Marketplace, sock: socket.socket, validate_responses: bool = False, announce=print, usage_plans: bool = True,
          sqs: Sqs | None = None) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM), ticking the marketplace in the background and
    delivering its notifications to `sqs` (default: a moto server started at the first use)."""
    host, port = sock.getsockname()[:2]
    market.base_url = f"http://{host}:{port}"
    market.sqs = sqs or Sqs()
    app = SandboxApp(market, validate_responses=validate_responses, usage_plans=usage_plans)
    logging.getLogger("uvicorn.error").addFilter(_HideInjectedDrops())
    config = uvicorn.Config(app.app, log_level="warning", access_log=False, lifespan="off",
                            date_header=False, server_header=False, timeout_keep_alive=30)
    server = uvicorn.Server(config)
    stop = threading.Event()

    def tick() -> None:
        saved = time.monotonic()
        while not stop.wait(0.05):
            market.tick()
            if market.state_file and time.monotonic() - saved > SAVE_EVERY_SECONDS:
                market.save()
                saved = time.monotonic()

    ticker = threading.Thread(target=tick, name="sandbox-clock", daemon=True)
    ticker.start()
    announce(f"omsync sandbox listening on {market.base_url}")
    # uvicorn shuts down gracefully on SIGTERM, then raises it again under the handler found at
    # start: a quiet one lets the state be saved below instead of the default handler killing us.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()
        ticker.join(5)
        market.save()
        market.sqs.stop()


def main(port: int, seed: int, time_scale: float, state: Path | None, marketplace_id: str, seller_id: str,
         order_rate: float, settlement_days: float, validate_responses: bool, usage_plans: bool = True,
         sqs_endpoint: str | None = None) -> None:
    # a new marketplace is as hard as a real seller's; a saved one keeps what it was set to
    realism = None if state is not None and state.exists() else SELLER
    market = Marketplace(seed=seed, time_scale=time_scale, marketplace_id=marketplace_id, seller_id=seller_id,
                         order_rate=order_rate, settlement_days=settlement_days, state_file=state, realism=realism)
    serve(market, bind(port), validate_responses, announce=lambda line: print(line, flush=True), usage_plans=usage_plans,
          sqs=Sqs(sqs_endpoint))
