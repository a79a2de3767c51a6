"""The sandbox for a simulated day: in this process, on a clock that moves only when the harness
moves it, so what happens depends on the seed and never on how fast the machine runs the flows."""

from __future__ import annotations

import threading
import time
from typing import Any
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

import httpx

import uvicorn

from omsync.sandbox.clock import SimClock
from omsync.sandbox.marketplace import Marketplace
from omsync.sandbox.process import Sandbox
from omsync.sandbox.run import bind
from omsync.connectors.amazon_limits import TokenBucket
from omsync.sandbox.server import SandboxApp


class SteppedClock(SimClock):
    """Simulated time that stands still except when the harness advances it. Usage plans alone also
    count the real seconds a flow run takes (`plan_elapsed`): within a run, calls are paced as Amazon
    paces them, in the client's real time, while everything buyers and Amazon do waits for the step."""

    def __init__(self, start: datetime) -> None:
        super().__init__(1.0, start)
        self._in_runs = 0.0
        self._run_started: float | None = None

    def elapsed(self) -> float:
        with self._lock:
            return self._advanced

    def plan_elapsed(self) -> float:
        with self._lock:
            running = time.monotonic() - self._run_started if self._run_started is not None else 0.0
            return self._advanced + self._in_runs + running

    @contextmanager
    def flow_run(self) -> Iterator[None]:
        with self._lock:
            self._run_started = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._in_runs += time.monotonic() - self._run_started
                self._run_started = None


class _PlanBucket(TokenBucket):
    """A usage plan refilled on the clock's plan time, whatever time the caller passes."""

    def __init__(self, clock: SteppedClock, rate: float, burst: int) -> None:
        super().__init__(rate, burst)
        self.clock = clock

    def take(self, now: float) -> bool:
        return super().take(self.clock.plan_elapsed())


class _SteppedApp(SandboxApp):
    def _bucket(self, key: str, plan: tuple[float, int]) -> TokenBucket:
        if key not in self.buckets:
            self.buckets[key] = _PlanBucket(self.market.clock, *plan)
        return self.buckets[key]


class _KeptAliveSandbox(Sandbox):
    """The admin API over one kept-alive connection: a simulated day makes a few thousand admin calls, and a
    client per call spends 20 ms on each building its TLS context."""

    def __init__(self, url: str) -> None:
        super().__init__(url=url, process=None)
        self._http = httpx.Client(trust_env=False, timeout=60)

    def admin(self, method: str, path: str, body: dict | None = None, **params: Any) -> Any:
        response = self._http.request(method, f"{self.url}/_sandbox/{path}", json=body, params=params or None)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._http.close()


class SteppedSandbox:
    """A marketplace served on a loopback port from a thread; `advance` is the only way time passes."""

    def __init__(self, market: Marketplace, start: datetime) -> None:
        market.clock = SteppedClock(start)
        market.state.start = start
        self.market = market
        sock = bind(0)
        host, port = sock.getsockname()[:2]
        market.base_url = f"http://{host}:{port}"
        config = uvicorn.Config(_SteppedApp(market).app, log_level="warning", access_log=False, lifespan="off",
                                date_header=False, server_header=False, timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True)
        self._thread.start()
        self.client = _KeptAliveSandbox(market.base_url)  # admin API, settings, catalog publishing
        while not self._server.started:
            self._thread.join(0.02)

    @property
    def url(self) -> str:
        return self.market.base_url

    def advance(self, seconds: float) -> None:
        self.client.admin("POST", "clock/advance", {"seconds": seconds})

    def stop(self) -> None:
        self.client.close()
        self._server.should_exit = True
        self._thread.join(10)
