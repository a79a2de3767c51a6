"""confirmShipment for many packages at once, answered in small batches as Amazon replies, so that
the flow can record each batch (OM and warehouse) before the next: a killed run resends only the
confirmations that were in flight."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import polars as pl

from omsync.connectors.amazon import AmazonConnector, AmazonRejected, AmazonUnavailable

RESULT_SCHEMA = {"shipping_order_id": pl.Int64, "outcome": pl.String, "message": pl.String}
BATCH_SECONDS = 1.0  # answers recorded at least this often: at Amazon's 2 calls a second, a couple at a time
BATCH_ANSWERS = 20  # and at most this many per record (a burst after throttling lifts)


def _confirm(amazon: AmazonConnector, shipping_order_id: int, order_id: str, detail: dict) -> dict:
    """One confirmation's outcome: CONFIRMED, NOT_FOUND (Amazon answered 404 for the order), REJECTED
    (any other refusal, with Amazon's message) or UNAVAILABLE (no answer after the retries)."""
    try:
        amazon.confirm_shipment(order_id, detail)
        outcome, message = "CONFIRMED", None
    except AmazonRejected as exc:
        outcome, message = ("NOT_FOUND" if exc.status == 404 else "REJECTED"), exc.amazon_message or exc.code
    except AmazonUnavailable as exc:
        outcome, message = "UNAVAILABLE", str(exc)
    return {"shipping_order_id": shipping_order_id, "outcome": outcome, "message": message}


def confirm_in_batches(amazon: AmazonConnector, confirmations: list[tuple[int, str, dict]], concurrency: int,
                       clock=time.monotonic) -> Iterator[pl.DataFrame]:
    """confirmShipment for every (shipping_order_id, order_id, Amazon's packageDetail),
    `concurrency` at a time (the connector keeps Amazon's 2/s, burst 10); yields the answers
    (RESULT_SCHEMA) every BATCH_SECONDS or BATCH_ANSWERS, while the calls go on."""
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="omsync-confirm") as pool:
        pending = {pool.submit(_confirm, amazon, *confirmation) for confirmation in confirmations}
        answered: list[dict] = []
        due = clock() + BATCH_SECONDS
        try:
            while pending:
                done, pending = wait(pending, timeout=max(0.0, due - clock()), return_when=FIRST_COMPLETED)
                answered += [future.result() for future in done]
                if answered and (clock() >= due or len(answered) >= BATCH_ANSWERS or not pending):
                    yield pl.DataFrame(answered, schema=RESULT_SCHEMA)
                    answered, due = [], clock() + BATCH_SECONDS
                elif clock() >= due:
                    due = clock() + BATCH_SECONDS
        finally:
            for future in pending:  # the caller stopped (an error while recording): send nothing more
                future.cancel()
