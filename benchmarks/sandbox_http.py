"""Sandbox throughput over loopback (getFeed, an authenticated SP-API call) against a bare
Starlette app on the same server stack: the ratio is what the sandbox's own work costs."""

import subprocess
import sys
import threading
import time

import httpx

from omsync.sandbox.process import start_sandbox

BARE_APP = """
import socket, sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
async def feed(request):
    return JSONResponse({"feedId": "1", "processingStatus": "DONE"})
app = Starlette(routes=[Route("/feed", feed)])
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP); sock.bind(("127.0.0.1", 0)); sock.listen(2048)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")).run(sockets=[sock])
"""


def _rate(url: str, headers: dict, seconds: float = 4.0, threads: int = 4) -> float:
    done = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        with httpx.Client(headers=headers, trust_env=False) as client:
            while time.monotonic() < stop:
                response = client.get(url)
                assert response.status_code == 200, response.text
                done[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / seconds


def main() -> None:
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP], stdout=subprocess.PIPE, text=True)
    port = bare.stdout.readline().strip()
    sandbox = start_sandbox("--time-scale", "1000000")
    try:
        token = httpx.post(f"{sandbox.url}/auth/o2/token", data={"grant_type": "refresh_token", "client_id": "c", "client_secret": "s", "refresh_token": "r"}, trust_env=False).json()["access_token"]
        with httpx.Client(base_url=sandbox.url, headers={"x-amz-access-token": token}, trust_env=False) as client:
            doc = client.post("/feeds/2021-06-30/documents", json={"contentType": "application/json"}).json()
            httpx.put(doc["url"], content=b"{}", headers={"Content-Type": "application/json"}, trust_env=False)
            feed = client.post("/feeds/2021-06-30/feeds", json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": ["ATVPDKIKX0DER"], "inputFeedDocumentId": doc["feedDocumentId"]}).json()
        floor = _rate(f"http://127.0.0.1:{port}/feed", {})
        served = _rate(f"{sandbox.url}/feeds/2021-06-30/feeds/{feed['feedId']}", {"x-amz-access-token": token})
        print(f"bare Starlette on uvicorn (floor): {floor:7.0f} requests/s   1.00x")
        print(f"sandbox getFeed (auth, plan, model check): {served:7.0f} requests/s   {served / floor:.2f}x")
    finally:
        sandbox.stop()
        bare.terminate()
