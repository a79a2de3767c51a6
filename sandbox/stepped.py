"""The sandbox for a simulated day: in this process, on a clock that moves only when the harness
moves it, so what happens depends on the seed and never on how fast the machine runs the flows."""

from __future__ import annotations

import threading
from datetime import datetime

import uvicorn

from sandbox.clock import SimClock
from sandbox.marketplace import Marketplace
from sandbox.process import Sandbox
from sandbox.run import bind
from sandbox.server import SandboxApp

# Usage plans are enforced in simulated time by the sandbox; the rate it states in its headers is
# scaled by this, so the client's own pacing (in real seconds) never holds a run back.
STATED_RATE_SCALE = 1000.0


class SteppedClock(SimClock):
    """Simulated time that stands still between explicit advances."""

    def __init__(self, start: datetime) -> None:
        super().__init__(STATED_RATE_SCALE, start)

    def elapsed(self) -> float:
        with self._lock:
            return self._advanced


class SteppedSandbox:
    """A marketplace served on a loopback port from a thread; `advance` is the only way time passes."""

    def __init__(self, market: Marketplace, start: datetime) -> None:
        market.clock = SteppedClock(start)
        market.state.start = start
        self.market = market
        sock = bind(0)
        host, port = sock.getsockname()[:2]
        market.base_url = f"http://{host}:{port}"
        config = uvicorn.Config(SandboxApp(market).app, log_level="warning", access_log=False, lifespan="off",
                                date_header=False, server_header=False, timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True)
        self._thread.start()
        self.client = Sandbox(url=market.base_url, process=None)  # admin API, settings, catalog publishing
        while not self._server.started:
            self._thread.join(0.02)

    @property
    def url(self) -> str:
        return self.market.base_url

    def advance(self, seconds: float) -> None:
        self.client.admin("POST", "clock/advance", {"seconds": seconds})

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
