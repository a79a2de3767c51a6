"""`omsync amazon subscribe` as a user runs it: the omsync executable against the sandbox over HTTP,
and through a gateway that withholds the role subscriptions need."""

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import httpx
import pytest

from tests.connectors.test_notifications import queue_arn  # noqa: F401 (a fixture: an SQS queue on the sandbox's SQS)
from tests.test_cli import run

CREDENTIALS = {"SP_API_REFRESH_TOKEN": "Atzr|subscribe", "LWA_APP_ID": "amzn1.application-oa2-client.subscribe",
               "LWA_CLIENT_SECRET": "subscribe-client-secret"}


def subscribe(tmp_path, sandbox, *args):
    return run("amazon", "subscribe", *args, cwd=tmp_path, env={"OMSYNC_AMAZON_ENDPOINT": sandbox.url, **CREDENTIALS}, check=False)


def test_subscribe_twice_creates_once_shows_what_exists_and_refuses_a_bad_arn_in_one_line(tmp_path, sandbox, queue_arn):
    first = subscribe(tmp_path, sandbox, "--queue-arn", queue_arn)
    assert first.returncode == 0, first.stderr
    assert "created: destination " in first.stdout and ", subscription " in first.stdout
    again = subscribe(tmp_path, sandbox, "--queue-arn", queue_arn)
    assert again.returncode == 0 and "nothing created" in again.stdout, again.stderr
    shown = subscribe(tmp_path, sandbox, "--show")
    assert shown.returncode == 0, shown.stderr
    # The output is a pipe: one plain line per row, with every column of the one destination and its subscription.
    [row] = [line for line in shown.stdout.splitlines() if queue_arn in line]
    assert row.split()[:2] == ["ORDER_CHANGE", "1.0"] and "1 row" in shown.stdout and "created" not in shown.stdout
    assert row.split()[2:4] == [w for line in first.stdout.splitlines() if queue_arn in line for w in line.split()[2:4]]
    calls = sandbox.admin("GET", "calls")["calls"]
    assert calls["createDestination"] == 1 and calls["createSubscription"] == 1

    bad = subscribe(tmp_path, sandbox, "--queue-arn", "orders-queue")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == ["error: 'orders-queue' is not an SQS queue ARN: "
                                               "arn:aws:sqs:<region>:<account>:<queue name>, as the queue's details in the AWS console show it"]
    assert all(CREDENTIALS["LWA_CLIENT_SECRET"] not in out for out in (first.stdout, shown.stdout, bad.stderr))


@contextmanager
def gateway(sandbox, refuse):
    """The sandbox behind a gateway that answers for Amazon where `refuse(path, body)` gives (status, JSON, headers)."""
    class Gateway(BaseHTTPRequestHandler):
        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            content = self.rfile.read(length) if length else b""
            refused = refuse(self.path, content)
            if refused:
                status, headers, body = refused[0], {"Content-Type": "application/json", **refused[2]}, json.dumps(refused[1]).encode()
            else:
                answer = httpx.request(self.command, sandbox.url + self.path, content=content or None, trust_env=False,
                                       headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")})
                status, body = answer.status_code, answer.content
                headers = {k: v for k, v in answer.headers.items()
                           if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection")}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = forward

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()


def test_a_missing_role_is_one_line_saying_what_to_do(tmp_path, sandbox, queue_arn):
    # Amazon's answer to an application without the role ORDER_CHANGE subscriptions need.
    denied = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}
    refuse = lambda path, body: (403, denied, {"x-amzn-RequestId": "req-403"}) if path.startswith("/notifications/v1/subscriptions") else None
    with gateway(sandbox, refuse) as amazon:
        done = subscribe(tmp_path, amazon, "--queue-arn", queue_arn)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "getSubscription failed with 403 Unauthorized" in line and "req-403" in line and "role" in line and "Seller Central" in line
    assert CREDENTIALS["LWA_CLIENT_SECRET"] not in done.stdout + done.stderr


def test_lwa_refusing_the_grantless_token_is_one_line_naming_the_credentials(tmp_path, sandbox, queue_arn):
    # The library raises its own AuthorizationError, not an SP-API error, when LWA refuses a token.
    invalid = {"error": "invalid_client", "error_description": "Client authentication failed"}
    refuse = lambda path, body: (401, invalid, {}) if path == "/auth/o2/token" and b"client_credentials" in body else None
    with gateway(sandbox, refuse) as amazon:
        done = subscribe(tmp_path, amazon, "--queue-arn", queue_arn)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "getDestinations failed with 401 LWA invalid_client: Client authentication failed" in line and "LWA_CLIENT_SECRET" in line
    assert CREDENTIALS["LWA_CLIENT_SECRET"] not in done.stdout + done.stderr
