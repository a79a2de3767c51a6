"""The local Prefect server: find a running one, or start one on 127.0.0.1 and stop it afterwards.

Both must happen before Prefect is imported: it reads PREFECT_API_URL once, at import.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from omsync.core.errors import ConfigError

DEFAULT_PORT = 4200
START_TIMEOUT_SECONDS = 120.0


def api_url(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}/api"


def is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def use_running_server(port: int = DEFAULT_PORT, record: Path | None = None) -> str | None:
    """Send flow runs to a running server: PREFECT_API_URL when set, else the one `omsync serve` recorded
    in `record` (its URL file under data/), else one on `port`; None when none answers."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    candidates = [recorded_url(record)] if record else []
    for url in [*candidates, api_url(port)]:
        if url and is_up(url):
            os.environ["PREFECT_API_URL"] = url
            return url
    return None


def record_url(record: Path, url: str) -> None:
    """Remember the server `omsync serve` uses, for `omsync run` and `omsync demo` to find it."""
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(url + "\n")


def recorded_url(record: Path) -> str | None:
    try:
        return record.read_text().strip() or None
    except OSError:
        return None


def forget_url(record: Path, url: str) -> None:
    """Serve stopped: the record goes, unless another serve has written its own since."""
    if recorded_url(record) == url:
        record.unlink(missing_ok=True)


class _NoTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def quiet_tracebacks() -> None:
    """The terminal shows a failed run's one-line reason, not its traceback (the UI's logs keep it)."""
    import prefect  # noqa: F401  (its logging is set up at import)
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.addFilter(_NoTraceback())


def start_server(port: int, log: Path) -> subprocess.Popen:
    """`prefect server start` on 127.0.0.1:port, its output in `log`; returns once it answers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_API_URL": api_url(port)}
    env.pop("PREFECT_API_URL", None)
    with open(log, "ab") as out:
        process = subprocess.Popen([str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1",
                                    "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not is_up(api_url(port)):
        if process.poll() is not None:
            raise ConfigError(f"the Prefect server did not start (exit {process.returncode}); its log: {log}")
        if time.monotonic() > deadline:
            stop(process)
            raise ConfigError(f"the Prefect server did not answer within {START_TIMEOUT_SECONDS:.0f} s; its log: {log}")
        time.sleep(0.5)
    return process


def stop(process: subprocess.Popen) -> None:
    """Stop a child, and everything it started when it leads its own process group."""
    if process.poll() is not None:
        return
    try:
        whole_group = os.getpgid(process.pid) == process.pid
        send = (lambda sig: os.killpg(process.pid, sig)) if whole_group else process.send_signal
        send(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
            process.wait(10)
    except ProcessLookupError:
        pass
