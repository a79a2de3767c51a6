"""`omsync amazon check` against the sandbox over HTTP, and through a gateway that withholds one role."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.test_cli import run

CREDENTIALS = {"SP_API_REFRESH_TOKEN": "Atzr|check", "LWA_APP_ID": "amzn1.application-oa2-client.check", "LWA_CLIENT_SECRET": "s"}


def check(tmp_path, endpoint):
    return run("amazon", "check", cwd=tmp_path, env={"OMSYNC_AMAZON_ENDPOINT": endpoint, **CREDENTIALS}, check=False)


def test_every_role_is_there_on_the_sandbox(tmp_path, sandbox):
    done = check(tmp_path, sandbox.url)
    assert done.returncode == 0, done.stdout + done.stderr
    for role in ("Product Listing", "Inventory and Order Tracking", "Finance and Accounting"):
        assert any(role in line and " ok " in f"{line} " for line in done.stdout.splitlines()), done.stdout


@pytest.fixture
def without_finance_role(sandbox):
    """The sandbox behind a gateway that answers the Reports API as Amazon does for an app without the role."""
    class Gateway(BaseHTTPRequestHandler):
        def forward(self):
            if self.path.startswith("/reports/"):
                body = json.dumps({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            length = int(self.headers.get("Content-Length") or 0)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            answer = httpx.request(self.command, sandbox.url + self.path, headers=headers,
                                   content=self.rfile.read(length) if length else None, trust_env=False)
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = do_PATCH = forward

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_missing_role_is_named_and_exits_1(tmp_path, without_finance_role):
    done = check(tmp_path, without_finance_role)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    finance = next(line for line in done.stdout.splitlines() if "Finance and Accounting" in line)
    assert "MISSING" in finance and "settlement" in finance
    listing = next(line for line in done.stdout.splitlines() if "Product Listing" in line)
    assert " ok " in listing
    assert done.stderr.strip() == "not usable: Finance and Accounting"
