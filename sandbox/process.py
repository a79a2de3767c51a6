"""The sandbox as a child process on a free loopback port, driven through its admin API (demo, serve, tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from omsync.core.settings import Settings


@dataclass
class Sandbox:
    url: str
    process: subprocess.Popen

    def admin(self, method: str, path: str, body: dict | None = None, **params: Any) -> Any:
        with httpx.Client(trust_env=False, timeout=60) as client:
            response = client.request(method, f"{self.url}/_sandbox/{path}", json=body, params=params or None)
        response.raise_for_status()
        return response.json()

    def settings(self, **overrides: str) -> Settings:
        env = {
            "OMSYNC_AMAZON_ENDPOINT": self.url,
            "SP_API_REFRESH_TOKEN": "Atzr|sandbox-refresh-token",
            "LWA_APP_ID": "amzn1.application-oa2-client.omsync-tests",
            "LWA_CLIENT_SECRET": "sandbox-client-secret",
            **overrides,
        }
        return Settings.from_env(env)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_sandbox(*args: str, env: dict[str, str] | None = None) -> Sandbox:
    command = [str(Path(sys.executable).with_name("omsync")), "sandbox", "--port", "0", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMSYNC_", "SP_API_", "LWA_"))} | (env or {})
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"the sandbox did not start: {line}{process.stderr.read()}")
    return Sandbox(url=line.rsplit(" ", 1)[-1].strip(), process=process)
