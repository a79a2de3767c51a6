"""How `omsync run` and `omsync demo` find the Prefect server: PREFECT_API_URL, else the one serve recorded."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from omsync import prefect_server


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server_on_another_port():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()


def test_run_finds_the_server_serve_recorded_on_another_port(tmp_path, monkeypatch, server_on_another_port):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    record = tmp_path / "data" / "prefect-server.url"
    assert prefect_server.use_running_server(port=9, record=record) is None
    prefect_server.record_url(record, server_on_another_port)
    assert prefect_server.use_running_server(port=9, record=record) == server_on_another_port
    prefect_server.forget_url(record, server_on_another_port)
    assert not record.exists()


def test_prefect_api_url_wins(tmp_path, monkeypatch, server_on_another_port):
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example/api")
    prefect_server.record_url(tmp_path / "u", server_on_another_port)
    assert prefect_server.use_running_server(record=tmp_path / "u") == "http://prefect.example/api"


def test_a_stale_record_is_ignored(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    prefect_server.record_url(tmp_path / "u", "http://127.0.0.1:9/api")
    assert prefect_server.use_running_server(port=9, record=tmp_path / "u") is None
