"""The SQS queue that ORDER_CHANGE notifications go to: the user's (--sqs-endpoint) or a local moto
server the sandbox starts when first needed, reached with boto3 as any AWS client reaches SQS."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

MOTO_CREDENTIALS = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"}  # moto accepts any


class Sqs:
    def __init__(self, endpoint: str | None = None) -> None:
        """endpoint None: start moto's server on a free loopback port at the first use."""
        self._endpoint, self._server, self._lock = endpoint, None, threading.Lock()
        self._clients: dict[str, Any] = {}
        self._urls: dict[str, str] = {}

    @property
    def endpoint(self) -> str:
        with self._lock:
            if self._endpoint is None:
                from moto.server import ThreadedMotoServer

                self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
                self._server.start()
                host, port = self._server.get_host_and_port()
                self._endpoint = f"http://{host}:{port}"
            return self._endpoint

    def client(self, region: str):
        if region not in self._clients:
            import boto3  # only a sandbox that notifies pays for importing it

            credentials = MOTO_CREDENTIALS if self._server is not None else {}
            self._clients[region] = boto3.client("sqs", endpoint_url=self.endpoint, region_name=region, **credentials)
        return self._clients[region]

    def send(self, messages: list[tuple[float, int, str, str]]) -> list[tuple[float, int, str, str]]:
        """Send each (due, seq, queue ARN, body); returns those that could not be sent, to be tried again."""
        failed = []
        for message in messages:
            _, region, account, name = message[2].rsplit(":", 3)
            try:
                client = self.client(region)
                if message[2] not in self._urls:
                    self._urls[message[2]] = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                client.send_message(QueueUrl=self._urls[message[2]], MessageBody=message[3])
            except (BotoCoreError, ClientError):  # the queue is missing or SQS is down: Amazon retries later
                failed.append(message)
        return failed

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
