"""Headless Chromium driven over the DevTools protocol: open a page, wait until its text shows
what we expect, save a screenshot. Debian's `chromium` package; no webdriver, no network."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, executable: str) -> None:
        # Chromium's helpers (crashpad, renderers) may still write the profile after the browser exits:
        # its folder goes when it can, and a late file left in it is no test failure.
        self.profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        self.process = subprocess.Popen(
            [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-proxy-server", "--no-first-run",
             "--window-size=1400,1000", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             f"--user-data-dir={self.profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(self.profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        [page] = [t for t in httpx.get(f"http://127.0.0.1:{port}/json", trust_env=False).json() if t["type"] == "page"]
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=None)
        self.calls = 0

    def call(self, method: str, **params) -> dict:
        self.calls += 1
        self.socket.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.calls:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def text_after(self, url: str, expected: list[str], timeout: float = 60) -> str:
        """Open `url` and return the page's visible text once it contains every expected string."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''",
                             returnByValue=True)["result"].get("value") or ""
            if all(e in text for e in expected):
                return text
            time.sleep(0.5)
        raise AssertionError(f"{url} never showed {expected}; it showed: {text[:2000]}")

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        if getattr(self, "socket", None):
            self.socket.close()
        self._signal(signal.SIGTERM)  # the browser and every helper it started
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(10)
        self.profile.cleanup()

    def _signal(self, number: int) -> None:
        try:
            os.killpg(self.process.pid, number)
        except ProcessLookupError:  # the whole group has exited already
            pass
