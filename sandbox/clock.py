"""The sandbox's simulated time: real time stretched by --time-scale, plus explicit advances.

Every timestamp the sandbox shows (order times, feed times, the HTTP Date header) is simulated
time, so a client that takes "now" from Amazon's Date header stays consistent with it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone


class SimClock:
    def __init__(self, time_scale: float = 1.0, start: datetime | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("--time-scale must be positive")
        self.time_scale = time_scale
        self._start = start or datetime.now(timezone.utc)
        self._real_start = time.monotonic()
        self._advanced = 0.0
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        """Simulated seconds since the sandbox started."""
        with self._lock:
            return (time.monotonic() - self._real_start) * self.time_scale + self._advanced

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed())

    def set_time_scale(self, time_scale: float) -> None:
        """From now on simulated time runs `time_scale` times as fast as real time; what has elapsed stays."""
        if time_scale <= 0:
            raise ValueError("the time scale must be positive")
        with self._lock:
            now = time.monotonic()
            self._advanced += (now - self._real_start) * self.time_scale
            self._real_start, self.time_scale = now, time_scale

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._advanced += seconds


def iso(moment: datetime) -> str:
    """Amazon's ISO 8601 form: UTC with a Z."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 date-time (Z or offset); naive means UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
